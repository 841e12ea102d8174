"""MiniFASNet: its crop (upstream's rule, always inside the image), its scores on the upstream samples, its pins."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeface.config import Config, parse_config
from edgeface.config.liveness import DEFAULT_MODELS, DEFAULT_THRESHOLD
from edgeface.errors import ConfigError, ModelError
from edgeface.liveness.minifasnet import MiniFASNet, ModelSpec, crop_box, liveness_crop, model_specs
from edgeface.liveness.temporal import MotionSettings
from edgeface.models.catalogue import pinned_sha256
from edgeface.models.runtime import RuntimeOptions
from edgeface.values import Face, Image
from edgeface.vision.detect import Detector
from edgeface.vision.images import load_image
from edgeface.vision.pick import primary_face
from tests.support.data import LIVENESS
from tests.support.models import REPO_MODELS


def photo_face(detector: Detector, path: Path) -> tuple[Image, Face]:
    image = load_image(path)
    face = primary_face(detector.detect(image), image.shape)
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


def crop_of(box: tuple[float, ...], size: tuple[int, int]) -> tuple[tuple[int, int, int, int], float]:
    """What ``crop_box`` makes of a drawn (x, y, w, h, scale) in a (width, height) image, and the scale it
    may use: the one asked for, clamped so that the grown box fits."""
    x, y, w, h, scale = box
    width, height = size
    return crop_box((x, y, w, h), scale, width, height), min(scale, (height - 1) / h, (width - 1) / w)


class TestCrop:
    @given(boxes, sizes)
    def test_the_crop_is_always_inside_the_image_and_never_empty(
        self, box: tuple[float, ...], size: tuple[int, int]
    ) -> None:
        (left, top, right, bottom), _ = crop_of(box, size)
        width, height = size
        assert 0 <= left <= right <= width - 1
        assert 0 <= top <= bottom <= height - 1

    @given(boxes, sizes)
    def test_the_box_grows_by_the_clamped_scale_keeping_its_aspect(
        self, box: tuple[float, ...], size: tuple[int, int]
    ) -> None:
        (left, top, right, bottom), used = crop_of(box, size)
        _, _, w, h, _ = box
        # Shifting inside the image moves the box but never resizes it; truncation costs at most a pixel.
        assert abs((right - left) - w * used) <= 1.0 + 1e-6
        assert abs((bottom - top) - h * used) <= 1.0 + 1e-6

    @given(boxes, sizes)
    def test_a_box_that_fits_keeps_its_centre_and_one_that_does_not_is_shifted_in(
        self, box: tuple[float, ...], size: tuple[int, int]
    ) -> None:
        (left, top, right, bottom), used = crop_of(box, size)
        x, y, w, h, _ = box
        width, height = size
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

    def test_the_fused_score_is_the_more_doubtful_models_real_probability(
        self, minifasnet: MiniFASNet, detector: Detector
    ) -> None:
        for path in [LIVENESS / "real" / "image_T1.jpg", *sorted((LIVENESS / "spoof").glob("*.jpg"))]:
            image, face = photo_face(detector, path)
            each = minifasnet.model_probabilities(image, [face])
            assert each.shape == (2, 1, 3)
            assert float(minifasnet.score(image, [face])[0]) == pytest.approx(float(each[:, 0, 1].min()))
            np.testing.assert_allclose(minifasnet.probabilities(image, [face]), each.mean(axis=0), atol=1e-6)

    def test_a_model_that_is_not_the_pinned_one_is_refused(self) -> None:
        spec = model_specs(Config(models_dir=REPO_MODELS))[0]
        with pytest.raises(ModelError, match="does not match the pinned"):
            MiniFASNet.open([ModelSpec(spec.path, "0" * 64, spec.scale)], RuntimeOptions())


def test_the_config_section_is_on_by_default_and_pins_both_models() -> None:
    cfg = parse_config("", "test", REPO_MODELS.parent)
    assert cfg.liveness.enabled is True and MotionSettings.from_config(cfg.liveness.temporal) is None
    specs = model_specs(cfg)
    assert [(s.path.name, s.sha256, s.scale) for s in specs] == [(n, pinned_sha256(n), s) for n, s in DEFAULT_MODELS]
    with pytest.raises(ConfigError, match=r"liveness\.temporal"):
        parse_config("liveness: {temporal: {min_seconds: 5, window_seconds: 2}}", "test", REPO_MODELS.parent)
