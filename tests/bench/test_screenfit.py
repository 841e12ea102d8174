"""Fitting the screen cue and scoring each source with a cue that never saw it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgeface.bench.bysource import BySourceReport
from edgeface.bench.padset import Manifest, Provenance
from edgeface.bench.screenfit import (
    PARTS,
    Extracted,
    PadPhoto,
    PartSpec,
    extract,
    fit,
    group_weights,
    leave_one_source_out,
    load_extracted,
    pad_photos,
    save_extracted,
    training_rows,
)
from edgeface.cli import main
from edgeface.liveness.minifasnet import MiniFASNet
from edgeface.liveness.screen import FEATURES
from edgeface.vision.detect import Detector
from tests.support.data import SHARED

PAD_WEBCAMS = SHARED / "pad-webcams"


@pytest.mark.parametrize(
    ("attack_type", "species", "capture"),
    [
        ("bona fide (webcam frame)", None, "frame"),
        ("bona fide", None, "frame"),
        ("print (hand-held photo)", "print", "frame"),
        ("replay (phone screen, webcam frame)", "phone replay", "frame"),
        ("replay (TV/monitor screen, webcam frame)", "screen replay", "frame"),
        ("replay (screen, face crop)", "screen replay", "crop"),
        ("replay (screen recaptured by phone camera, video frame)", "screen replay", "video"),
        ("bona fide (webcam video)", None, "video"),
    ],
)
def test_the_manifest_says_the_species_and_the_capture_kind(attack_type: str, species: str, capture: str) -> None:
    prov = Provenance("src", "subject", attack_type)
    assert (prov.species, prov.capture) == (species, capture)


ONE_PART = (PartSpec("all", FEATURES, ("frame", "crop"), ridge=1.0, offset=0.0),)
"""A cue of one part on every input, gently regularised: what the synthetic sources below need."""


def synthetic(sources: int = 6, per: int = 20, seed: int = 0) -> Extracted:
    """Sources whose live faces and replays differ in the first handcrafted input, each with its own camera
    offset in the second one (what a cue must not learn)."""
    rng = np.random.default_rng(seed)
    photos, rows = [], []
    for s in range(sources):
        camera = rng.normal(0, 3)
        for i in range(per):
            live = i % 2 == 0
            x = rng.normal(0, 1, len(FEATURES))
            x[2] += 2.0 if live else -2.0
            x[3] += camera
            photos.append(PadPhoto(Path(f"{s}/{i}.jpg"), None if live else "phone replay", "frame", f"s{s}", f"s{s}"))
            rows.append(x)
    return Extracted(tuple(photos), np.array(rows), np.full(len(photos), 0.9), 1.0)


def test_a_source_is_scored_by_a_cue_that_never_saw_it() -> None:
    data = synthetic()
    scores = leave_one_source_out(data, ONE_PART)
    live = data.live
    assert np.all(scores <= 0.9) and scores[live].mean() > scores[~live].mean()
    # Relabel source s0 entirely: its own scores must not move (the cue that scores it never saw it) ...
    flipped = Extracted(
        tuple(
            PadPhoto(p.path, None if p.species else "phone replay", p.capture, p.source, p.subject)
            if p.source == "s0"
            else p
            for p in data.photos
        ),
        data.inputs,
        data.networks,
        data.ms_per_face,
    )
    again = leave_one_source_out(flipped, ONE_PART)
    held = np.array([p.source == "s0" for p in data.photos])
    assert np.allclose(again[held], scores[held])
    # ... while every other source's scores do.
    assert not np.allclose(again[~held], scores[~held])


def test_prints_never_train_the_cue_and_each_group_weighs_the_same() -> None:
    data = synthetic()
    photos = list(data.photos)
    photos[1] = PadPhoto(photos[1].path, "print", "frame", photos[1].source, photos[1].subject)
    rows = training_rows(Extracted(tuple(photos), data.inputs, data.networks, None), ("frame",))
    assert not rows[1] and rows.sum() == len(photos) - 1
    weights = group_weights(["a", "a", "a", "b"], np.array([True, True, False, True]))
    assert weights.mean() == pytest.approx(1.0)
    assert weights[0] == weights[1] == weights[2] / 2 == weights[3] / 2
    cue = fit(data.inputs, data.live, np.ones(len(data.live)), ONE_PART[0])
    assert cue.coef[2] > abs(cue.coef[3])  # the attack, not the camera


def test_the_frame_part_learns_only_from_whole_frames_and_weighs_a_screens_edge() -> None:
    data = synthetic()
    photos = tuple(
        PadPhoto(p.path, p.species, "crop" if i % 4 < 2 else "frame", p.source, p.subject)
        for i, p in enumerate(data.photos)
    )
    frame_part = next(spec for spec in PARTS if spec.name == "frame")
    rows = training_rows(Extracted(photos, data.inputs, data.networks, None), frame_part.captures)
    assert rows.sum() == len(photos) // 2 and all(photos[i].capture == "frame" for i in np.flatnonzero(rows))
    assert "bezel_length" in frame_part.features and "bezel_length" not in PARTS[0].features


@pytest.mark.slow
def test_by_source_on_two_webcam_sets(detector: Detector, minifasnet: MiniFASNet, tmp_path: Path) -> None:
    manifest = Manifest.read(PAD_WEBCAMS / "manifest.csv")
    photos = [
        p
        for p in pad_photos([PAD_WEBCAMS / "real", PAD_WEBCAMS / "spoof"], manifest)
        if p.source in {"cwprab", "chamin"}
    ]
    data = extract(detector, minifasnet, photos)
    save_extracted(data, tmp_path / "features.npz")
    again = load_extracted(tmp_path / "features.npz")
    assert again.photos == data.photos and np.array_equal(again.inputs, data.inputs, equal_nan=True)
    report = BySourceReport(data, leave_one_source_out(data)).to_dict()
    assert report["sources"] == 2 and report["photos"] == 58 and report["ms_per_face"] > 0
    frame = report["levels"]["balanced"]["frame"]  # type: ignore[index]
    assert set(frame["apcer"]) == {"phone replay", "screen replay"} and frame["bona_fide"] == 28


def test_by_source_needs_a_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "spoof").mkdir()
    code = main(
        ["bench", "liveness", "--by-source", "--real", str(tmp_path / "real"), "--spoof", str(tmp_path / "spoof")]
    )
    assert code != 0 and "needs a manifest.csv" in capsys.readouterr().err
