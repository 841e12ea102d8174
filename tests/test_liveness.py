"""Liveness: the MiniFASNet crop and wiring, the temporal motion check on real frames, and the bench.

The tests at the end (``TestInTheDaemon``) exercise the daemon's integration: ``Match.live``, the
decider's spoof denial, ``Config.liveness`` and ``Service(liveness=...)``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeface.bench.liveness import liveness_jobs, photos_under, run_liveness
from edgeface.config import Config
from edgeface.config.liveness import DEFAULT_MODELS, DEFAULT_THRESHOLD
from edgeface.errors import ConfigError, ModelError
from edgeface.liveness.minifasnet import MiniFASNet, ModelSpec, crop_box, liveness_crop, model_specs
from edgeface.liveness.stage import CanonicalLandmarks, LandmarkSource, LivenessStage
from edgeface.liveness.temporal import (
    MotionHistory,
    MotionSettings,
    MotionVerdict,
    box_jitter,
    nonrigid_motion,
    project,
)
from edgeface.models.catalogue import pinned_sha256
from edgeface.models.runtime import RuntimeOptions
from edgeface.mqtt.publisher import MemoryPublisher
from edgeface.values import Face, Image, Match
from edgeface.vision.detect import Detector, primary_face
from edgeface.vision.images import load_image
from edgeface.vision.recognize import Recognizer
from tests.support.data import FACES, ROOT, SHARED
from tests.support.models import REPO_MODELS

LIVENESS = SHARED / "liveness"
DEMO_CLIP = ROOT / "config" / "demo" / "hamilton_clip.mp4"
DEMO_FACES = ROOT / "config" / "demo" / "faces"
FPS = 15.0
"""The rate the daemon gets through frames on a small board; the clip is sampled down to it."""


@pytest.fixture(scope="module")
def minifasnet() -> Iterator[MiniFASNet]:
    with MiniFASNet.open(model_specs(Config(models_dir=REPO_MODELS)), RuntimeOptions()) as model:
        yield model


@pytest.fixture(scope="module")
def detector(recognizer: Recognizer) -> Detector:
    return recognizer.detector


def photo_face(detector: Detector, path: Path) -> tuple[Image, Face]:
    image = load_image(path)
    face = primary_face(detector.detect(image))
    assert face is not None, path
    return image, face


def upstream_box(box: tuple[float, float, float, float], scale: float, w: int, h: int) -> tuple[int, ...]:
    """Silent-Face's ``CropImage._get_new_box``, transcribed as the reference."""
    x, y, bw, bh = box
    scale = min((h - 1) / bh, (w - 1) / bw, scale)
    nw, nh = bw * scale, bh * scale
    cx, cy = bw / 2 + x, bh / 2 + y
    lx, ty, rx, by = cx - nw / 2, cy - nh / 2, cx + nw / 2, cy + nh / 2
    if lx < 0:
        rx -= lx
        lx = 0
    if ty < 0:
        by -= ty
        ty = 0
    if rx > w - 1:
        lx -= rx - w + 1
        rx = w - 1
    if by > h - 1:
        ty -= by - h + 1
        by = h - 1
    return int(lx), int(ty), int(rx), int(by)


boxes = st.tuples(
    st.floats(-400, 2000), st.floats(-400, 2000), st.floats(1, 1500), st.floats(1, 1500), st.floats(1.0, 6.0)
)
sizes = st.tuples(st.integers(2, 2000), st.integers(2, 2000))


class TestCrop:
    @given(boxes, sizes)
    def test_the_crop_is_always_inside_the_image_and_never_empty(
        self, box: tuple[float, ...], size: tuple[int, int]
    ) -> None:
        x, y, w, h, scale = box
        width, height = size
        left, top, right, bottom = crop_box((x, y, w, h), scale, width, height)
        assert 0 <= left <= right <= width - 1
        assert 0 <= top <= bottom <= height - 1

    @given(boxes, sizes)
    def test_the_box_grows_by_the_clamped_scale_keeping_its_aspect(
        self, box: tuple[float, ...], size: tuple[int, int]
    ) -> None:
        x, y, w, h, scale = box
        width, height = size
        left, top, right, bottom = crop_box((x, y, w, h), scale, width, height)
        used = min(scale, (height - 1) / h, (width - 1) / w)
        # Shifting inside the image moves the box but never resizes it; truncation costs at most a pixel.
        assert abs((right - left) - w * used) <= 1.0 + 1e-6
        assert abs((bottom - top) - h * used) <= 1.0 + 1e-6

    @given(boxes, sizes)
    def test_a_box_that_fits_keeps_its_centre_and_one_that_does_not_is_shifted_in(
        self, box: tuple[float, ...], size: tuple[int, int]
    ) -> None:
        x, y, w, h, scale = box
        width, height = size
        left, top, right, bottom = crop_box((x, y, w, h), scale, width, height)
        used = min(scale, (height - 1) / h, (width - 1) / w)
        cx, cy = x + w / 2, y + h / 2
        if w * used / 2 <= cx <= width - 1 - w * used / 2:
            assert abs((left + right) / 2 - cx) <= 1.0
        elif cx < w * used / 2:
            assert left == 0
        else:
            assert right == width - 1
        if h * used / 2 <= cy <= height - 1 - h * used / 2:
            assert abs((top + bottom) / 2 - cy) <= 1.0

    @settings(max_examples=300)
    @given(boxes, sizes)
    def test_it_is_upstreams_rule(self, box: tuple[float, ...], size: tuple[int, int]) -> None:
        x, y, w, h, scale = box
        assert crop_box((x, y, w, h), scale, *size) == upstream_box((x, y, w, h), scale, *size)

    def test_worked_examples(self) -> None:
        assert crop_box((100, 100, 50, 60), 2.7, 640, 480) == (57, 49, 192, 211)  # fits: 135×162 about (125, 130)
        assert crop_box((0, 0, 100, 100), 4.0, 640, 480) == (0, 0, 400, 400)  # shifted right and down
        assert crop_box((200, 100, 200, 300), 4.0, 640, 480) == (140, 0, 459, 479)  # scale clamped to 479/300

    def test_the_patch_is_80x80_raw_bgr(self) -> None:
        image = np.zeros((240, 320, 3), np.uint8)
        image[..., 0] = 200  # blue in OpenCV's BGR
        patch = liveness_crop(image, (100.0, 80.0, 40.0, 50.0), 2.7)
        assert patch.shape == (80, 80, 3) and patch.dtype == np.uint8
        assert (patch[..., 0] == 200).all() and (patch[..., 1:] == 0).all()


class TestMiniFASNet:
    @pytest.mark.parametrize("path", sorted((LIVENESS / "spoof").glob("*.jpg")), ids=lambda p: p.name)
    def test_the_upstream_attack_samples_score_as_spoof(
        self, minifasnet: MiniFASNet, detector: Detector, path: Path
    ) -> None:
        image, face = photo_face(detector, path)
        probs = minifasnet.probabilities(image, [face])[0]
        assert int(np.argmax(probs)) != 1, "upstream labels these FAKE"
        assert float(minifasnet.score(image, [face])[0]) < DEFAULT_THRESHOLD

    def test_the_upstream_live_sample_scores_as_live(self, minifasnet: MiniFASNet, detector: Detector) -> None:
        image, face = photo_face(detector, LIVENESS / "real" / "image_T1.jpg")
        assert float(minifasnet.score(image, [face])[0]) > 0.99  # MODELS.md: REAL (1.00)

    def test_one_batch_scores_each_face_as_if_alone(self, minifasnet: MiniFASNet, detector: Detector) -> None:
        image, face = photo_face(detector, LIVENESS / "real" / "image_T1.jpg")
        x, y, w, h = face.box
        faces = [dataclasses.replace(face, box=(x + dx, y + dy, w, h)) for dx, dy in ((0, 0), (-15, 4), (20, -10))]
        batched = minifasnet.probabilities(image, faces)
        alone = np.concatenate([minifasnet.probabilities(image, [f]) for f in faces])
        np.testing.assert_allclose(batched, alone, atol=1e-5)
        np.testing.assert_allclose(batched.sum(axis=1), 1.0, atol=1e-5)
        assert minifasnet.score(image, []).shape == (0,)

    def test_a_model_that_is_not_the_pinned_one_is_refused(self) -> None:
        spec = model_specs(Config(models_dir=REPO_MODELS))[0]
        with pytest.raises(ModelError, match="does not match the pinned"):
            MiniFASNet.open([ModelSpec(spec.path, "0" * 64, spec.scale)], RuntimeOptions())


# -- the temporal check ---------------------------------------------------------------------------------------

HEAD = np.array([[-0.5, -0.4, 0.0], [0.5, -0.4, 0.0], [0.0, 0.1, -0.6], [-0.4, 0.6, 0.0], [0.4, 0.6, 0.0]])
"""Eyes, nose tip, mouth corners in inter-ocular units; the nose stands 0.6 out of the eye–mouth plane."""


def view(points: np.ndarray, yaw: float, pitch: float, distance: float = 8.0, focal: float = 600.0) -> np.ndarray:
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    rot = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]]) @ np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    p = points @ rot.T + [0.0, 0.0, distance]
    return np.asarray(p[:, :2] / p[:, 2:3] * focal + 320.0)


class TestMotionMeasure:
    @given(st.integers(0, 2**32 - 1), st.integers(3, 10))
    def test_landmarks_moved_by_any_homography_are_rigid(self, seed: int, frames: int) -> None:
        rng = np.random.default_rng(seed)
        base = view(HEAD * [1, 1, 0], 0.0, 0.0)  # a flat picture of a face
        spread = np.array([[0.3, 0.3, 80.0], [0.3, 0.3, 80.0], [4e-4, 4e-4, 0.0]])
        moves = [np.eye(3) + rng.uniform(-1, 1, (3, 3)) * spread for _ in range(frames)]
        seq = np.stack([project(h[None], base[None])[0] for h in moves])
        assert nonrigid_motion(seq) < 1e-6

    def test_a_head_turning_is_not_rigid_and_a_flat_picture_turning_is(self) -> None:
        angles = np.radians(np.linspace(-12, 12, 12))
        head = np.stack([view(HEAD, a, 0.3 * a) for a in angles])
        flat = np.stack([view(HEAD * [1, 1, 0], a, 0.3 * a) for a in angles])
        assert nonrigid_motion(head) > MotionSettings().threshold
        assert nonrigid_motion(flat) < 1e-6
        assert nonrigid_motion(head[:1]) == 0.0

    def test_box_jitter_is_nil_when_the_box_moves_with_the_landmarks(self) -> None:
        pts = np.stack([view(HEAD * [1, 1, 0], 0.0, 0.0) * s + d for s, d in ((1.0, 0), (1.2, 30), (0.8, -12))])
        boxes = np.array(
            [
                [p[:, 0].min() - 10 * s, p[:, 1].min() - 20 * s, 80 * s, 100 * s]
                for p, s in zip(pts, (1.0, 1.2, 0.8), strict=True)
            ]
        )
        assert box_jitter(pts, boxes) < 1e-9


def face_at(points: np.ndarray, size: float = 100.0) -> Face:
    x, y = points.min(axis=0) - 10
    return Face((float(x), float(y), size, size), 0.9, points.astype(np.float32))


class TestMotionHistory:
    def test_a_verdict_waits_for_enough_time_and_frames(self) -> None:
        history = MotionHistory(MotionSettings(min_seconds=1.0, min_frames=6, window_seconds=2.0))
        for k in range(30):
            ts = k / FPS
            history.update(ts, [7], [face_at(view(HEAD, np.radians(10) * np.sin(k / 3), 0.0))])
            report = history.check(7, ts)
            assert (report.verdict is MotionVerdict.PENDING) == (ts < 1.0)
        assert report.verdict is MotionVerdict.MOVING and report.nonrigid is not None
        assert history.check(8, ts).verdict is MotionVerdict.PENDING  # a track it never saw

    def test_a_picture_held_still_is_rigid(self) -> None:
        history = MotionHistory(MotionSettings())
        still = face_at(view(HEAD, 0.2, 0.0))
        for k in range(30):
            history.update(k / FPS, [1], [still])
        assert history.check(1, 29 / FPS).verdict is MotionVerdict.RIGID

    def test_small_faces_old_frames_gone_tracks_and_clock_steps_are_not_evidence(self) -> None:
        history = MotionHistory(MotionSettings(min_face=40.0, window_seconds=2.0))
        for k in range(30):
            history.update(k / FPS, [1, 2], [face_at(view(HEAD, 0.01 * k, 0.0)), face_at(view(HEAD, 0.0, 0.0), 20.0)])
        assert len(history) == 1, "faces under min_face are not recorded"
        history.update(10.0, [], [])
        assert len(history) == 0, "a track unseen for a whole window is forgotten"
        history.update(10.1, [3], [face_at(view(HEAD, 0.0, 0.0))])
        history.update(5.0, [3], [face_at(view(HEAD, 0.0, 0.0))])  # the clock went back
        assert history.check(3, 5.0).frames == 1

    def test_settings_are_checked(self) -> None:
        with pytest.raises(ValueError, match="min_seconds"):
            MotionSettings(min_seconds=3.0, window_seconds=2.0)


def rotation(rx: float, ry: float, rz: float) -> np.ndarray:
    """3-D rotation about x, then y, then z."""
    cx, sx, cy, sy, cz, sz = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry), np.cos(rz), np.sin(rz)
    about_x = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    about_y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    return np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]]) @ about_y @ about_x


def rigid_attack(
    detector: Detector,
    photo: Image,
    mode: str,
    *,
    seed: int,
    frames: int = 30,
    face_px: float = 90.0,
    landmarks: LandmarkSource,
) -> list[Face]:
    """A still photo moved as a plane before a camera: a random walk of 3-D tilt (perspective), roll, scale and
    shift ("similarity" has no tilt, "affine" shears instead), with sensor noise and JPEG re-encoding. The faces
    found carry the landmarks ``landmarks`` measures."""
    rng = np.random.default_rng(seed)
    ph, pw = photo.shape[:2]
    found = primary_face(detector.detect(photo))
    assert found is not None
    base = face_px / found.size
    background = cv2.resize(
        rng.integers(40, 200, (60, 80, 3)).astype(np.uint8), (640, 480), interpolation=cv2.INTER_CUBIC
    )
    corners = np.array([[-pw / 2, -ph / 2, 0], [pw / 2, -ph / 2, 0], [pw / 2, ph / 2, 0], [-pw / 2, ph / 2, 0]])
    state, out = np.zeros(6), []
    for _ in range(frames):
        state = 0.85 * state + rng.normal(0, 1, 6) * [0.04, 0.04, 0.03, 0.03, 6.0, 6.0]
        rx, ry, rz, log_scale, dx, dy = state
        tilt_x, tilt_y = (rx, ry) if mode == "perspective" else (0.0, 0.0)
        rot = rotation(0.0, 0.0, rz) @ rotation(0.0, tilt_y, 0.0) @ rotation(tilt_x, 0.0, 0.0)
        p = corners * base * np.exp(log_scale) @ rot.T + [0, 0, 800.0]
        dst = p[:, :2] / p[:, 2:3] * 800.0 + [320 + dx, 240 + dy]
        h = cv2.getPerspectiveTransform(np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]]), dst.astype(np.float32))
        if mode == "affine":
            h = np.array([[1 + ry / 2, rx, 0], [ry / 2, 1, 0], [0, 0, 1]]) @ h
        frame = cv2.warpPerspective(photo, h, (640, 480), dst=background.copy(), borderMode=cv2.BORDER_TRANSPARENT)
        frame = np.clip(frame + rng.normal(0, 3.0, frame.shape), 0, 255).astype(np.uint8)
        _, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(60, 90))])
        image = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
        face = primary_face(detector.detect(image))
        points = None if face is None else landmarks(image, face)
        if face is not None and points is not None:
            out.append(dataclasses.replace(face, landmarks=points.astype(np.float32)))
    return out


def verdicts(faces: Sequence[tuple[float, Face]], motion: MotionSettings) -> list[tuple[MotionVerdict, float | None]]:
    """Feed one track's faces in order; the verdict after each frame."""
    history, out = MotionHistory(motion), []
    for ts, face in faces:
        history.update(ts, [1], [face])
        report = history.check(1, ts)
        out.append((report.verdict, report.nonrigid))
    return out


@pytest.fixture(scope="module")
def clip_tracks(detector: Detector) -> dict[int, list[tuple[float, Face]]]:
    """The demo clip's faces by track, sampled at FPS: live people, moving as people do."""
    from edgeface.vision.track import Tracker

    video, tracker, tracks, canonical = cv2.VideoCapture(str(DEMO_CLIP)), Tracker(), {}, CanonicalLandmarks(detector)
    rate = video.get(cv2.CAP_PROP_FPS) or 30.0
    index = 0
    while True:
        ok, frame = video.read()
        if not ok:
            break
        if index % round(rate / FPS) == 0:
            ts = index / rate
            faces = detector.detect(frame)
            for track, face in zip(tracker.update(faces, ts), faces, strict=True):
                points = canonical(frame, face) if face.size >= MotionSettings().min_face else None
                if points is not None:
                    tracks.setdefault(track, []).append((ts, dataclasses.replace(face, landmarks=points)))
        index += 1
    video.release()
    return tracks


class TestTemporalOnRealFrames:
    @pytest.mark.parametrize("mode", ["similarity", "affine", "perspective"])
    @pytest.mark.parametrize("face_px", [50.0, 120.0])
    def test_a_still_photo_moved_rigidly_is_refused(self, detector: Detector, mode: str, face_px: float) -> None:
        photo = load_image(FACES / "barack_obama" / "1.jpg")
        faces = rigid_attack(
            detector, photo, mode, seed=int(face_px), face_px=face_px, landmarks=CanonicalLandmarks(detector)
        )
        assert len(faces) >= 25, "the attack frames must show a face"
        results = verdicts([(k / FPS, f) for k, f in enumerate(faces)], MotionSettings())
        decided = [(v, n) for v, n in results if v is not MotionVerdict.PENDING]
        assert decided and all(v is MotionVerdict.RIGID for v, _ in decided), max(n or 0 for _, n in decided)

    def test_the_live_people_of_the_demo_clip_pass(self, clip_tracks: dict[int, list[tuple[float, Face]]]) -> None:
        motion = MotionSettings()
        checked = 0
        for track, faces in clip_tracks.items():
            for verdict, nonrigid in verdicts(faces, motion):
                if verdict is not MotionVerdict.PENDING:
                    checked += 1
                    assert verdict is MotionVerdict.MOVING, f"track {track}: {nonrigid:.4f}"
        assert checked >= 100, "the clip must give the check enough windows to mean something"


def test_canonical_landmarks_undo_the_detectors_scale_artefacts(detector: Detector) -> None:
    """A photo only zoomed (a similarity: perfectly rigid) must stay rigid; raw YuNet landmarks drift with size."""
    photo = load_image(FACES / "alex_lacamoire" / "1.jpg")
    found = primary_face(detector.detect(photo))
    assert found is not None
    canonical, raw, refined = CanonicalLandmarks(detector), [], []
    for px in np.arange(84.0, 124.0, 4.0):
        matrix = cv2.getRotationMatrix2D(found.centre, 0.0, px / found.size)
        matrix[:, 2] += [320 - found.centre[0], 240 - found.centre[1]]
        frame = cv2.warpAffine(photo, matrix, (640, 480), borderValue=(120, 120, 120))
        face = primary_face(detector.detect(frame))
        assert face is not None
        points = canonical(frame, face)
        assert points is not None
        raw.append(face.landmarks)
        refined.append(points)
    assert nonrigid_motion(np.stack(refined)) < MotionSettings().threshold <= nonrigid_motion(np.stack(raw))
    blank = np.full((480, 640, 3), 120, np.uint8)
    assert canonical(blank, found) is None, "no face in the canonical crop: no evidence"


class FixedModel:
    """A liveness model that says the same of every face."""

    def __init__(self, score: float) -> None:
        self.value, self.closed, self.calls = score, False, 0

    def score(self, image: Image, faces: Sequence[Face]) -> np.ndarray:
        self.calls += 1
        return np.full(len(faces), self.value, np.float32)

    def close(self) -> None:
        self.closed = True


class TestStage:
    IMAGE = np.zeros((480, 640, 3), np.uint8)

    def run(self, stage: LivenessStage, faces: list[Face]) -> list[bool | None]:
        out = []
        for k, face in enumerate(faces):
            ts = k / FPS
            out.append(stage.check(self.IMAGE, ts, [(4, face)])[0].live)
        return out

    def test_without_the_temporal_check_the_score_decides(self) -> None:
        face = face_at(view(HEAD, 0.0, 0.0))
        assert self.run(LivenessStage(FixedModel(0.9), 0.5), [face]) == [True]
        assert self.run(LivenessStage(FixedModel(0.2), 0.5), [face]) == [False]
        assert LivenessStage(FixedModel(0.9), 0.5).check(self.IMAGE, 0.0, []) == []

    def test_with_it_a_face_is_pending_then_live_if_it_moves_and_spoof_if_it_does_not(self) -> None:
        turning = [face_at(view(HEAD, np.radians(10) * np.sin(k / 3), 0.0)) for k in range(30)]
        still = [face_at(view(HEAD, 0.1, 0.0))] * 30
        live = self.run(LivenessStage(FixedModel(0.9), 0.5, MotionSettings()), turning)
        flat = self.run(LivenessStage(FixedModel(0.9), 0.5, MotionSettings()), still)
        assert live[0] is None and live[-1] is True
        assert flat[0] is None and flat[-1] is False
        # A low score is a spoof at once: moving cannot make a print live.
        assert self.run(LivenessStage(FixedModel(0.1), 0.5, MotionSettings()), turning) == [False] * 30

    def test_it_closes_its_model(self) -> None:
        model = FixedModel(1.0)
        with LivenessStage(model, 0.5):
            pass
        assert model.closed


# -- the bench ----------------------------------------------------------------------------------------------


def test_the_bench_on_the_upstream_samples(detector: Detector, minifasnet: MiniFASNet, tmp_path: Path) -> None:
    blank = tmp_path / "empty"
    blank.mkdir()
    cv2.imwrite(str(blank / "wall.jpg"), np.full((240, 320, 3), 128, np.uint8))
    report = run_liveness(
        detector, minifasnet, [LIVENESS / "real", blank], [LIVENESS / "spoof"], threshold=DEFAULT_THRESHOLD
    )
    data = report.to_dict()
    assert data["apcer"] == 0.0 and data["attacks"] == 2 and data["attacks_accepted"] == 0
    assert data["bpcer"] == 0.0 and data["bona_fide"] == 1
    assert data["no_face"] == {"bona_fide": 1, "attack": 0}
    hist = report.histogram()
    assert sum(hist["bona_fide"]) == 1 and sum(hist["attack"]) == 2
    assert data["ms_per_face"] is not None and data["ms_per_face"] > 0
    json.dumps(data)
    text = "\n".join(report.table())
    assert "APCER" in text and "BPCER" in text and "0/2 attacks accepted" in text


def test_bench_inputs_are_found_recursively_and_both_kinds_are_required(tmp_path: Path) -> None:
    for rel in ("a/1.jpg", "a/b/2.png", "c.jpg"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("not a photo")
    assert [p.relative_to(tmp_path).as_posix() for p in photos_under(tmp_path)] == ["a/1.jpg", "a/b/2.png", "c.jpg"]
    with pytest.raises(ConfigError, match="both"):
        liveness_jobs([tmp_path], [])
    with pytest.raises(ConfigError, match="not a folder"):
        photos_under(tmp_path / "missing")


# -- once wired into the daemon ---------------------------------------------------------------------------------


def seen(person: str | None, live: bool | None) -> Match:
    return Match(person, 0.8, person or "ann", 0.1, live=live)


class TestInTheDaemon:
    def decider(self) -> tuple[object, list[float]]:
        from edgeface.config import DecideConfig
        from edgeface.door.decide import Decider

        now = [100.0]
        return Decider(DecideConfig(required=3, window=5), clock=lambda: now[0]), now

    def test_agreeing_spoof_frames_deny_with_reason_spoof_and_never_grant(self) -> None:
        from edgeface.values import EventType

        decider, now = self.decider()
        out = []
        for _ in range(40):  # 5 s of a picture of ann: one denial, then the cooldown
            now[0] += 0.125
            out += decider.observe(now[0], [(1, seen("ann", False))])
        assert [(d.type, d.reason, d.person) for d in out] == [(EventType.DENIED, "spoof", "ann")]

    def test_live_and_spoof_frames_do_not_agree_with_each_other(self) -> None:
        from edgeface.values import EventType

        decider, now = self.decider()
        out = []
        for live in (True, False, True, False, True):  # 3 live of the last 5: a grant on the third live one
            now[0] += 0.125
            out.append(decider.observe(now[0], [(1, seen("ann", live))]))
        assert [len(d) for d in out] == [0, 0, 0, 0, 1] and out[-1][0].type is EventType.GRANTED

    def test_the_config_section_is_off_by_default_and_pins_both_models(self) -> None:
        from edgeface.config import parse_config

        cfg = parse_config("", "test", REPO_MODELS.parent)
        assert cfg.liveness.enabled is False and MotionSettings.from_config(cfg.liveness.temporal) is None
        specs = model_specs(cfg)
        assert [(s.path.name, s.sha256, s.scale) for s in specs] == [
            (n, pinned_sha256(n), s) for n, s in DEFAULT_MODELS
        ]
        with pytest.raises(ConfigError, match=r"liveness\.temporal"):
            parse_config("liveness: {temporal: {min_seconds: 5, window_seconds: 2}}", "test", REPO_MODELS.parent)

    @pytest.mark.parametrize(
        ("score", "temporal", "expected"), [(0.0, False, "spoof"), (1.0, True, "spoof"), (1.0, False, None)]
    )
    def test_the_door_never_opens_for_a_face_that_fails_liveness(
        self, tmp_path: Path, score: float, temporal: bool, expected: str | None
    ) -> None:
        from gpiozero.pins.mock import MockFactory

        from edgeface.capture.memory import MemoryCamera
        from edgeface.config import RelayConfig
        from edgeface.daemon.loop import Service
        from edgeface.door.relay import DoorRelay
        from edgeface.ops.enroll import enroll_photos, photos_in
        from edgeface.storage.people import Store
        from edgeface.values import EventType, Frame
        from tests.support.models import make_config

        cfg = make_config(tmp_path, relay=RelayConfig(pulse_seconds=0.2, pin_factory="mock"))
        photo = load_image(DEMO_FACES / "lin_manuel_miranda.jpg")
        motion = MotionSettings(min_seconds=0.5) if temporal else None
        factory = MockFactory()
        with (
            Store(cfg.store_path) as store,
            Recognizer.from_config(cfg) as recognizer,
            DoorRelay.from_config(cfg.relay, factory) as relay,
            LivenessStage(FixedModel(score), 0.5, motion) as liveness,
        ):
            list(enroll_photos(recognizer, store, photos_in(DEMO_FACES)))
            publisher = MemoryPublisher()
            service = Service(
                cfg,
                camera=MemoryCamera(),
                recognizer=recognizer,
                store=store,
                publisher=publisher,
                relay=relay,  # type: ignore[arg-type]
                liveness=liveness,
            )
            service.reload_people()
            pin = factory.pin(cfg.relay.pin)
            decisions = [d for k in range(30) for d in service.process(Frame(photo, 1000.0 + k / FPS, k))]
            assert decisions, "a matched face must lead to a decision"
            if expected is None:
                assert decisions[0].type is EventType.GRANTED
            else:
                assert [(d.type, d.reason) for d in decisions] == [(EventType.DENIED, expected)]
                assert True not in [s.state for s in pin.states], "the relay must never pulse for a spoof"
        factory.close()

    def test_the_demo_clip_is_granted_with_both_checks_on(self, tmp_path: Path) -> None:
        from gpiozero.pins.mock import MockFactory

        from edgeface.capture.memory import MemoryCamera
        from edgeface.config import LivenessConfig, RelayConfig, TemporalConfig
        from edgeface.daemon.loop import Service
        from edgeface.door.relay import DoorRelay
        from edgeface.ops.enroll import enroll_photos, photos_in
        from edgeface.storage.people import Store
        from edgeface.values import EventType, Frame
        from edgeface.vision.recognize import open_detector
        from tests.support.models import make_config

        cfg = make_config(
            tmp_path,
            relay=RelayConfig(pulse_seconds=0.2, pin_factory="mock"),
            liveness=LivenessConfig(enabled=True, temporal=TemporalConfig(enabled=True)),
        )
        lv = cfg.liveness
        factory = MockFactory()
        with (
            Store(cfg.store_path) as store,
            Recognizer.from_config(cfg) as recognizer,
            DoorRelay.from_config(cfg.relay, factory) as relay,
            LivenessStage.open(
                model_specs(cfg),
                RuntimeOptions.from_config(cfg.runtime),
                lv.threshold,
                MotionSettings.from_config(lv.temporal),
                open_detector(cfg),
            ) as liveness,
        ):
            list(enroll_photos(recognizer, store, photos_in(DEMO_FACES)))
            service = Service(
                cfg,
                camera=MemoryCamera(),
                recognizer=recognizer,
                store=store,
                publisher=MemoryPublisher(),
                relay=relay,
                liveness=liveness,
            )
            service.reload_people()
            video, index, decisions = cv2.VideoCapture(str(DEMO_CLIP)), 0, []
            while (read := video.read())[0]:
                if index % 2 == 0:  # about 15 fps, as a small board keeps up
                    decisions += service.process(Frame(read[1], 1000.0 + index / 30.0, index))
                index += 1
            known = [(d.type, d.person, d.reason) for d in decisions if d.person is not None]
            assert known == [(EventType.GRANTED, "lin_manuel_miranda", None)]
            assert [s.state for s in factory.pin(cfg.relay.pin).states][-2:] == [True, False]
        factory.close()


def test_bench_liveness_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    from edgeface.cli import main

    real, spoof = LIVENESS / "real", LIVENESS / "spoof"
    assert main(["bench", "liveness", "--real", str(real), "--spoof", str(spoof), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["apcer"] == 0.0 and data["bpcer"] == 0.0 and data["attacks"] == 2
