"""The vision core on real photos: detect, align, embed and match."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgeface.values import Face
from edgeface.vision.align import CropSpec, align, crop_matrix, template_points
from edgeface.vision.detect import decode_yunet, non_max_suppression, primary_face, prominent_faces
from edgeface.vision.embed import preprocess
from edgeface.vision.images import load_image
from edgeface.vision.match import Gallery, match, similarity_from_distance
from edgeface.vision.recognize import Recognizer
from tests.support.data import FACES


def embed_photo(rec: Recognizer, rel: str) -> np.ndarray:
    image = load_image(FACES / rel)
    face = primary_face(rec.detect(image))
    assert face is not None, rel
    return rec.embed(image, [face])[0]


class TestDetect:
    def test_a_portrait_yields_one_face_with_landmarks_inside_its_box(self, recognizer: Recognizer) -> None:
        faces = recognizer.detect(load_image(FACES / "barack_obama" / "1.jpg"))
        assert len(faces) == 1
        x, y, w, h = faces[0].box
        assert faces[0].score > 0.8
        assert w > 50 and h > 50
        assert np.all(faces[0].landmarks[:, 0] > x) and np.all(faces[0].landmarks[:, 0] < x + w)
        assert np.all(faces[0].landmarks[:, 1] > y) and np.all(faces[0].landmarks[:, 1] < y + h)
        right_eye, left_eye = faces[0].landmarks[:2]
        assert right_eye[0] < left_eye[0], "first landmark is the eye on the image's left"

    @pytest.mark.parametrize("scale", [0.77, 1.0, 2.3])
    def test_boxes_map_back_to_the_input_image_whatever_its_size(self, recognizer: Recognizer, scale: float) -> None:
        image = load_image(FACES / "andy_roddick" / "1.jpg")
        reference = primary_face(recognizer.detect(image))
        resized = cv2.resize(image, None, fx=scale, fy=scale)  # odd sizes and beyond max_side
        face = primary_face(recognizer.detect(resized))
        assert reference is not None and face is not None
        # Resampling moves a detection by a few pixels; a wrong mapping would be off by the scale factor.
        tolerance = 0.1 * reference.size
        np.testing.assert_allclose(np.array(face.box) / scale, reference.box, atol=tolerance)
        np.testing.assert_allclose(face.landmarks / scale, reference.landmarks, atol=tolerance)

    def test_a_picture_without_people_has_no_face(self, recognizer: Recognizer) -> None:
        rng = np.random.default_rng(0)
        noise = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
        assert recognizer.detect(noise) == []
        assert recognizer.detect(np.zeros((37, 53, 3), np.uint8)) == []

    def test_decoding_places_a_confident_cell_at_its_grid_position(self) -> None:
        h, w = 64, 96
        outputs = {}
        for s in (8, 16, 32):
            n = (h // s) * (w // s)
            outputs[f"cls_{s}"] = np.zeros((1, n, 1), np.float32)
            outputs[f"obj_{s}"] = np.zeros((1, n, 1), np.float32)
            outputs[f"bbox_{s}"] = np.zeros((1, n, 4), np.float32)
            outputs[f"kps_{s}"] = np.zeros((1, n, 10), np.float32)
        cols = w // 16
        cell = 2 * cols + 3  # row 2, column 3 at stride 16
        outputs["cls_16"][0, cell, 0] = 0.81
        outputs["obj_16"][0, cell, 0] = 1.0
        outputs["bbox_16"][0, cell] = [0.5, 0.5, np.log(2.0), np.log(3.0)]
        dets = decode_yunet(outputs, h, w, 0.5)
        assert len(dets) == 1
        assert dets.scores[0] == pytest.approx(0.9)
        np.testing.assert_allclose(dets.boxes[0], [(3.5 * 16) - 16, (2.5 * 16) - 24, 32, 48])
        np.testing.assert_allclose(dets.landmarks[0, 0], [3 * 16, 2 * 16])

    def test_overlapping_boxes_merge_into_the_best_one(self) -> None:
        from edgeface.vision.detect import Detections

        boxes = np.array([[10, 10, 50, 50], [12, 11, 50, 50], [200, 200, 40, 40]], np.float32)
        scores = np.array([0.8, 0.95, 0.9], np.float32)
        kept = non_max_suppression(Detections(boxes, scores, np.zeros((3, 5, 2), np.float32)), 0.5, 0.3, 10)
        assert sorted(kept.scores.tolist()) == pytest.approx([0.9, 0.95])

    def test_background_faces_cut_by_the_edge_do_not_make_a_portrait_ambiguous(self) -> None:
        marks = np.zeros((5, 2), np.float32)
        main = Face((80, 70, 84, 115), 0.9, marks)
        edge = Face((206, 110, 45, 60), 0.9, marks)  # leaves the 250-px picture on the right
        twin = Face((10, 10, 70, 95), 0.9, marks)
        assert prominent_faces([main, edge], (250, 250, 3)) == [main]
        assert len(prominent_faces([main, twin], (250, 250, 3))) == 2


class TestAlign:
    def test_the_template_warp_puts_the_landmarks_on_the_template(self, recognizer: Recognizer) -> None:
        image = load_image(FACES / "nicole_kidman" / "1.jpg")
        face = primary_face(recognizer.detect(image))
        assert face is not None
        spec = CropSpec("template", 112)
        m = crop_matrix(face, spec)
        moved = face.landmarks @ m[:, :2].T + m[:, 2]
        assert np.abs(moved - template_points(spec)).mean() < 4.0
        assert align(image, face, spec).shape == (112, 112, 3)

    def test_the_box_crop_grows_the_face_box_by_its_margin_and_squashes_it_square(self) -> None:
        image = np.zeros((300, 300, 3), np.uint8)
        image[100:200, 120:180] = 255  # the "face": 60 wide, 100 tall
        face = Face((120, 100, 60, 100), 0.9, np.zeros((5, 2), np.float32))
        crop = align(image, face, CropSpec("box", 160, margin=0.125))
        assert crop.shape == (160, 160, 3)
        # Each side grows by 12.5 %, so the face fills 100/125 of the crop in both directions: 128 px.
        assert 124 <= len(np.flatnonzero(crop[:, 80, 0] > 128)) <= 132
        assert 124 <= len(np.flatnonzero(crop[80, :, 0] > 128)) <= 132


class TestEmbed:
    def test_embeddings_are_unit_float32_vectors_and_batching_changes_nothing(self, recognizer: Recognizer) -> None:
        image = load_image(FACES / "joe_biden" / "1.jpg")
        face = primary_face(recognizer.detect(image))
        assert face is not None
        other = load_image(FACES / "norah_jones" / "1.jpg")
        face2 = primary_face(recognizer.detect(other))
        assert face2 is not None
        spec = CropSpec.for_profile(recognizer.embedder.profile)
        crops = [align(image, face, spec), align(other, face2, spec)]
        together = recognizer.embedder.embed(crops)
        alone = recognizer.embedder.embed(crops[:1])
        assert together.dtype == np.float32 and together.shape == (2, 128)
        np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
        np.testing.assert_allclose(together[0], alone[0], atol=1e-4)

    def test_prewhitening_standardises_each_image_on_its_own(self, facenet_recognizer: Recognizer) -> None:
        rng = np.random.default_rng(1)
        crops = [rng.integers(0, 255, (160, 160, 3), dtype=np.uint8), np.full((160, 160, 3), 7, np.uint8)]
        profile = facenet_recognizer.embedder.profile.model_copy(update={"normalize": "prewhiten"})
        tensor = preprocess(crops, profile)
        assert tensor.shape == (2, 3, 160, 160)
        assert abs(float(tensor[0].mean())) < 1e-4 and float(tensor[0].std()) == pytest.approx(1.0, abs=1e-3)
        assert np.all(tensor[1] == 0.0), "a flat image has zero std: the floor keeps it finite"


class TestMatch:
    def test_the_nearest_template_of_each_person_decides(self) -> None:
        e = np.eye(4, dtype=np.float32)
        gallery = Gallery.build({"ann": e[[0, 1]], "bob": e[[2]]}, 4)
        probes = np.stack([e[1], e[2], e[3]])
        results = match(probes, gallery, threshold=0.5)
        assert [r.person for r in results] == ["ann", "bob", None]
        assert results[0].similarity == pytest.approx(1.0)
        assert results[2].candidate is not None and results[2].similarity == pytest.approx(0.0)

    def test_a_margin_rejects_a_probe_equally_close_to_two_people(self) -> None:
        e = np.eye(3, dtype=np.float32)
        gallery = Gallery.build({"ann": e[[0]], "bob": e[[1]]}, 3)
        probe = (e[0] + e[1]) / np.sqrt(2)
        assert match(probe[None], gallery, 0.5, margin=0.0)[0].person is not None
        assert match(probe[None], gallery, 0.5, margin=0.05)[0].person is None

    def test_an_empty_gallery_knows_nobody(self) -> None:
        assert match(np.ones((2, 4), np.float32) / 2, Gallery.empty(4), 0.1)[0].person is None

    def test_a_facenet_distance_threshold_is_a_similarity_threshold(self) -> None:
        assert similarity_from_distance(0.0) == 1.0
        assert similarity_from_distance(np.sqrt(2)) == pytest.approx(0.0)


class TestRecognition:
    """Same person near, different people far, strangers rejected — on real photos."""

    @pytest.mark.parametrize(
        ("enrolled", "probe"),
        [("barack_obama/1.jpg", "barack_obama/3.jpg"), ("nicole_kidman/1.jpg", "nicole_kidman/4.jpg")],
    )
    def test_photos_of_the_same_person_match(self, recognizer: Recognizer, enrolled: str, probe: str) -> None:
        similarity = float(embed_photo(recognizer, enrolled) @ embed_photo(recognizer, probe))
        assert similarity > recognizer.threshold

    def test_different_people_and_strangers_are_rejected(self, recognizer: Recognizer) -> None:
        people = ["barack_obama/1.jpg", "joe_biden/1.jpg", "nicole_kidman/1.jpg", "norah_jones/1.jpg"]
        gallery = Gallery.build({p.split("/")[0]: embed_photo(recognizer, p)[None] for p in people}, 128)
        strangers = np.stack([embed_photo(recognizer, f"unknown/{i}.jpg") for i in (1, 2, 3, 4, 5)])
        assert all(m.person is None for m in match(strangers, gallery, recognizer.threshold))
        again = embed_photo(recognizer, "joe_biden/2.jpg")
        assert match(again[None], gallery, recognizer.threshold)[0].person == "joe_biden"

    def test_facenet_takes_fixed_standardisation_and_its_mean_embedding_away(
        self, facenet_recognizer: Recognizer
    ) -> None:
        crop = np.full((1, 160, 160, 3), 255, np.uint8)
        tensor = preprocess(list(crop), facenet_recognizer.embedder.profile)
        assert np.allclose(tensor, (255 - 127.5) / 128)
        vectors = np.stack([embed_photo(facenet_recognizer, f"unknown/{i}.jpg") for i in range(1, 9)])
        # Centred embeddings of different people point in unrelated directions, not towards a common "face".
        assert float(np.linalg.norm(vectors.mean(axis=0))) < 0.5

    def test_the_seeds_facenet_separates_people_too(self, facenet_recognizer: Recognizer) -> None:
        rec = facenet_recognizer
        same = float(embed_photo(rec, "barack_obama/1.jpg") @ embed_photo(rec, "barack_obama/2.jpg"))
        other = float(embed_photo(rec, "barack_obama/1.jpg") @ embed_photo(rec, "pierce_brosnan/1.jpg"))
        assert same > rec.threshold > other
