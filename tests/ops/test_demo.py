"""The demo's people at a real door: the daemon says at start that they are all it would let in."""

from __future__ import annotations

import logging
from contextlib import ExitStack
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from edgeface.app import open_service
from edgeface.config import Config
from edgeface.ops.demo import demo_people, demo_store_warning
from edgeface.ops.enroll import enroll_photos, scan_faces
from edgeface.storage.people import Store
from edgeface.vision.recognize import Recognizer
from tests.support.configs import service_config
from tests.support.data import DEMO_CLIP, DEMO_FACES
from tests.support.scenes import empty_scene

DEMO_PEOPLE = {"alex_lacamoire", "lin_manuel_miranda"}


def door_with_the_demo_people(tmp_path: Path, camera: Path) -> Config:
    """A door config whose store holds the demo's people, enrolled from the demo's own photos."""
    cfg = service_config(tmp_path, camera)
    with Recognizer.from_config(cfg) as recognizer, Store(cfg.store_path) as store:
        list(enroll_photos(recognizer, store, scan_faces(DEMO_FACES).photos))
    return cfg


def start_warnings(cfg: Config, caplog: pytest.LogCaptureFixture) -> list[str]:
    caplog.clear()
    factory = MockFactory()
    with caplog.at_level(logging.WARNING, logger="edgeface.app"), ExitStack() as stack:
        open_service(cfg, stack, pin_factory=factory)
    factory.close()
    return [r.getMessage() for r in caplog.records if r.name == "edgeface.app"]


def test_a_real_door_whose_store_holds_only_the_demo_people_says_so_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = door_with_the_demo_people(tmp_path, empty_scene(tmp_path / "camera"))
    [warning] = start_warnings(cfg, caplog)
    assert warning == (
        f"people store {cfg.store_path} holds only the demo's people (alex_lacamoire, lin_manuel_miranda), "
        "whom this door would let in: enrol your own (edgeface enroll) and remove them (edgeface people remove NAME)"
    )
    assert start_warnings(cfg.model_copy(update={"camera": cfg.camera.model_copy(update={"path": None})}), caplog) == []


def test_the_demo_people_are_those_of_its_photos() -> None:
    assert demo_people() == DEMO_PEOPLE


@pytest.mark.parametrize(
    ("enrolled", "camera", "warned"),
    [
        ({"lin_manuel_miranda"}, "real", True),  # some of the demo's people, nobody else
        (DEMO_PEOPLE | {"ann"}, "real", False),  # the door's own people too
        (set(), "real", False),  # nobody: doctor and the start summary say so
        (DEMO_PEOPLE, "demo", False),  # the demo itself
    ],
)
def test_only_a_door_with_a_real_camera_and_nobody_but_the_demo_people_is_warned(
    tmp_path: Path, enrolled: set[str], camera: str, warned: bool
) -> None:
    source = DEMO_CLIP if camera == "demo" else empty_scene(tmp_path / "camera")
    assert (demo_store_warning(service_config(tmp_path, source), enrolled) is not None) is warned
