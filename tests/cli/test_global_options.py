"""The global options (-c/--config, -v) where a user types them: before the command or after it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeface.cli import build_parser, main, relay_lock_args, verbosity
from tests.support.cli import run_edgeface
from tests.support.configs import write_config


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "edgeface.yaml", device_id="after-the-command")


def shown_device_id(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 0
    return str(json.loads(capsys.readouterr().out)["device_id"])


def test_config_after_the_command_is_the_config_in_force(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert shown_device_id(["config", "show", "--config", str(config)], capsys) == "after-the-command"
    assert shown_device_id(["config", "show", "-c", str(config)], capsys) == "after-the-command"
    assert main(["people", "list", "--json", "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out)["people"] == []


def test_config_show_takes_a_path_as_config_check_does(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert shown_device_id(["config", "show", str(config)], capsys) == "after-the-command"
    other = write_config(config.parent / "other.yaml", device_id="the-other-door")
    assert shown_device_id(["--config", str(other), "config", "show", str(config)], capsys) == "after-the-command"


def test_a_config_given_after_the_command_replaces_one_given_before_it(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = write_config(config.parent / "other.yaml", device_id="the-other-door")
    assert shown_device_id(["-c", str(other), "config", "show", "-c", str(config)], capsys) == "after-the-command"
    assert shown_device_id(["-c", str(other), "config", "show", "-v"], capsys) == "the-other-door"


def test_run_with_a_mistyped_config_names_the_file_not_the_option(tmp_path: Path) -> None:
    typo = tmp_path / "typo.yaml"
    done = run_edgeface("run", "--config", str(typo))
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith("edgeface: error: ") and str(typo) in line


@pytest.mark.parametrize(
    ("argv", "count"),
    [(["run"], 0), (["-v", "run"], 1), (["run", "-vv"], 2), (["-v", "people", "list", "-v"], 2)],
)
def test_verbose_counts_wherever_it_is_given(argv: list[str], count: int) -> None:
    assert verbosity(build_parser().parse_args(argv)) == count


@pytest.mark.parametrize(
    "argv", [["relay", "lock", "--config", "x.yaml"], ["-v", "relay", "lock", "-c", "x.yaml", "-v"]]
)
def test_relay_lock_with_its_options_after_it_still_takes_the_quick_way(argv: list[str]) -> None:
    args = relay_lock_args(argv)
    assert args is not None and args.config == Path("x.yaml")
