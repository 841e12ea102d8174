"""The README's two commands: `make run` sets up what the daemon needs, `make test` adds the development tools."""

from __future__ import annotations

import re
import subprocess
from importlib.metadata import requires
from pathlib import Path

from edgeface.config import default_state_dir, load_config
from tests.support.data import ROOT

DEV_TOOLS = ("pytest", "hypothesis", "ruff", "mypy", "onnx")


def planned(target: str, venv: Path) -> list[str]:
    """The commands ``make TARGET`` would run on a machine without the virtualenv (``make -n``: none is run)."""
    done = subprocess.run(
        ["make", "-n", target, f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True
    )
    return done.stdout.splitlines()


def bootstraps(commands: list[str]) -> list[str]:
    return [line.split("deploy/bootstrap.sh", 1)[1].strip() for line in commands if "deploy/bootstrap.sh" in line]


def test_make_run_sets_up_the_daemon_without_the_development_tools(tmp_path: Path) -> None:
    assert bootstraps(planned("run", tmp_path / "venv")) == [""]
    for target in ("test", "lint", "typecheck", "unit"):
        assert bootstraps(planned(target, tmp_path / "venv")) == ["", "dev"], target


def requirement_names(extra: str | None) -> set[str]:
    """The packages edgeface requires (its installed metadata), with ``extra`` or without any."""
    names = set()
    for requirement in requires("edgeface") or []:
        marker = re.search(r"extra\s*==\s*[\"']([\w-]+)", requirement)
        if (marker.group(1) if marker else None) == extra:
            names.add(re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower())
    return names


def test_the_development_tools_are_in_the_dev_extra_only() -> None:
    assert not requirement_names(None) & set(DEV_TOOLS)
    assert requirement_names("dev") >= set(DEV_TOOLS)


def test_bootstrap_refuses_an_argument_it_does_not_know_before_installing_anything(tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", "deploy/bootstrap.sh", "devel"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "VENV": str(tmp_path / "venv")},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (done.returncode, done.stderr) == (2, "usage: bootstrap.sh [dev]\n")
    assert not (tmp_path / "venv").exists()


def test_the_demo_runs_on_a_state_directory_of_its_own(tmp_path: Path) -> None:
    demo = ROOT / "config" / "demo" / "edgeface.yaml"
    commands = [line for line in planned("run", tmp_path / "venv") if "/bin/edgeface " in line]
    assert len(commands) == 2 and all(f"--config {demo.relative_to(ROOT)} " in line for line in commands), commands
    cfg = load_config(demo)
    assert cfg.state_dir.resolve() == ROOT / "config" / "demo" / "state"
    assert cfg.state_dir.resolve() != default_state_dir().resolve(), "never the user's real store"
    assert cfg.relay.pin_factory == "mock", "a relay wired to the machine never moves for the demo"
    ignored = subprocess.run(["git", "check-ignore", "-q", str(cfg.store_path)], cwd=ROOT, check=False)
    assert ignored.returncode == 0, "the demo's templates are never committed"
