"""``edgeface.Recognizer``: a door's pipeline from its config and people store, inside another program.

People are enrolled in a real store with the enrolment the ``enroll`` command runs (each one's first
photo of ../shared/faces); their other photos and the strangers of ``unknown/`` are then given as frames.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import edgeface
from edgeface.config import Config, LivenessConfig
from edgeface.ops.enroll import enroll_photos
from edgeface.storage.people import Store
from edgeface.vision.images import load_image
from edgeface.vision.recognize import Recognizer
from tests.support.data import labelled_faces
from tests.support.models import REPO_MODELS, make_config

PEOPLE, STRANGERS = labelled_faces()
ENROLLED = ["alex_lacamoire", "angelina_jolie", "ariel_sharon", "barack_obama", "venus_williams"]


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory, recognizer: Recognizer) -> Config:
    """A door's config whose store holds the five people of ENROLLED."""
    cfg = make_config(tmp_path_factory.mktemp("state"))
    with Store(cfg.store_path) as store:
        results = list(enroll_photos(recognizer, store, [(name, PEOPLE[name][0]) for name in ENROLLED]))
    assert [r.outcome.value for r in results] == ["enrolled"] * len(ENROLLED)
    return cfg


def names(rec: edgeface.Recognizer, photo: Path) -> list[str | None]:
    return [face.name for face in rec.process(load_image(photo))]


def test_enrolled_people_are_named_and_strangers_are_not(door: Config) -> None:
    with edgeface.Recognizer(door, live=False) as rec:
        assert rec.people == tuple(ENROLLED)
        assert 0.3 < rec.threshold < 0.6
        for name in ENROLLED:
            found = names(rec, PEOPLE[name][1])
            assert name in found and set(found) <= {name, None}  # a bystander in a news photo is nobody
        assert [n for photo in STRANGERS[:10] for n in names(rec, photo) if n is not None] == []
        assert [n for photo in PEOPLE["andy_roddick"] for n in names(rec, photo) if n is not None] == []


def test_a_config_file_is_read_as_the_daemon_reads_it(door: Config, tmp_path: Path) -> None:
    path = tmp_path / "edgeface.yaml"
    path.write_text(yaml.safe_dump({"state_dir": str(door.state_dir), "models_dir": str(REPO_MODELS)}))
    with edgeface.Recognizer(path, live=False) as rec:
        assert rec.config.store_path == door.store_path
        assert rec.people == tuple(ENROLLED)


def test_a_face_keeps_its_track_across_the_frames_of_a_stream(door: Config) -> None:
    frame = load_image(PEOPLE["barack_obama"][2])
    with edgeface.Recognizer(door) as rec:
        first, second = rec.process(frame, ts=100.0), rec.process(frame, ts=100.2)
    assert [f.track for f in first] == [f.track for f in second] != [None]
    assert [f.name for f in second] == ["barack_obama"]


def test_a_removal_takes_effect_when_the_people_are_read_again(recognizer: Recognizer, tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    with Store(cfg.store_path) as store:
        list(enroll_photos(recognizer, store, [("ariel_sharon", PEOPLE["ariel_sharon"][0])]))
    probe = PEOPLE["ariel_sharon"][1]
    with edgeface.Recognizer(cfg, live=False) as rec:
        assert "ariel_sharon" in names(rec, probe)
        with Store(cfg.store_path) as store:
            assert store.remove_person("ariel_sharon")
        assert "ariel_sharon" in names(rec, probe), "the people in memory stay until they are read again"
        rec.reload_people()
        assert rec.people == ()
        assert "ariel_sharon" not in names(rec, probe)


def test_with_liveness_on_each_named_face_carries_its_verdict(door: Config) -> None:
    cfg = door.model_copy(update={"liveness": LivenessConfig(enabled=True)})
    with edgeface.Recognizer(cfg, live=False) as rec:
        (face,) = rec.process(load_image(PEOPLE["venus_williams"][1]))
    assert face.live is not None
    assert face.reason == (None if face.live else "spoof")
