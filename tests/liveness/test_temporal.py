"""The temporal check: rigid motion measured on landmarks, the per-track history, and real frames.

A still photo moved before the camera, however it is tilted, stays rigid; the people of the demo clip
move as people do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeface.liveness.stage import CanonicalLandmarks, LandmarkSource
from edgeface.liveness.temporal import (
    MotionHistory,
    MotionSettings,
    MotionVerdict,
    box_jitter,
    nonrigid_motion,
    project,
)
from edgeface.values import Face, Image
from edgeface.vision.detect import Detector
from edgeface.vision.images import load_image
from edgeface.vision.pick import primary_face
from tests.support.data import DEMO_CLIP, FACES
from tests.support.liveness import FPS, HEAD, face_at, view


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
    found = primary_face(detector.detect(photo), photo.shape)
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
        face = primary_face(detector.detect(image), image.shape)
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


@pytest.mark.slow
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
    found = primary_face(detector.detect(photo), photo.shape)
    assert found is not None
    canonical, raw, refined = CanonicalLandmarks(detector), [], []
    for px in np.arange(84.0, 124.0, 4.0):
        matrix = cv2.getRotationMatrix2D(found.centre, 0.0, px / found.size)
        matrix[:, 2] += [320 - found.centre[0], 240 - found.centre[1]]
        frame = cv2.warpAffine(photo, matrix, (640, 480), borderValue=(120, 120, 120))
        face = primary_face(detector.detect(frame), frame.shape)
        assert face is not None
        points = canonical(frame, face)
        assert points is not None
        raw.append(face.landmarks)
        refined.append(points)
    assert nonrigid_motion(np.stack(refined)) < MotionSettings().threshold <= nonrigid_motion(np.stack(raw))
    blank = np.full((480, 640, 3), 120, np.uint8)
    assert canonical(blank, found) is None, "no face in the canonical crop: no evidence"
