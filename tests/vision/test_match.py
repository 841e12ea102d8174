"""Matching probes against a gallery: nearest template or centroid per person, a margin, distance thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from edgeface.config import MatchConfig
from edgeface.vision.match import Gallery, match


def test_the_nearest_template_of_each_person_decides() -> None:
    e = np.eye(4, dtype=np.float32)
    gallery = Gallery.build({"ann": e[[0, 1]], "bob": e[[2]]}, 4)
    probes = np.stack([e[1], e[2], e[3]])
    results = match(probes, gallery, threshold=0.5)
    assert [r.person for r in results] == ["ann", "bob", None]
    assert results[0].similarity == pytest.approx(1.0)
    assert results[2].candidate is not None and results[2].similarity == pytest.approx(0.0)


def test_a_margin_rejects_a_probe_equally_close_to_two_people() -> None:
    e = np.eye(3, dtype=np.float32)
    gallery = Gallery.build({"ann": e[[0]], "bob": e[[1]]}, 3)
    probe = (e[0] + e[1]) / np.sqrt(2)
    assert match(probe[None], gallery, 0.5, margin=0.0)[0].person is not None
    assert match(probe[None], gallery, 0.5, margin=0.05)[0].person is None


def test_an_empty_gallery_knows_nobody() -> None:
    assert match(np.ones((2, 4), np.float32) / 2, Gallery.empty(4), 0.1)[0].person is None


def test_a_facenet_distance_threshold_is_a_similarity_threshold() -> None:
    assert MatchConfig(distance_threshold=1e-9).fixed_similarity() == pytest.approx(1.0)
    assert MatchConfig(distance_threshold=float(np.sqrt(2))).fixed_similarity() == pytest.approx(0.0)
    assert MatchConfig(threshold=0.3).fixed_similarity() == 0.3
    assert MatchConfig().fixed_similarity() is None


def test_centroids_score_a_person_against_the_mean_of_their_templates_and_keep_the_template_count() -> None:
    e = np.eye(4, dtype=np.float32)
    gallery = Gallery.build({"ann": e[[0, 1]], "bob": e[[2]]}, 4)
    centres = gallery.centroids()
    assert centres.names == ("ann", "bob") and centres.template_count == gallery.template_count == 3
    np.testing.assert_allclose(centres.vectors[0], (e[0] + e[1]) / np.sqrt(2), atol=1e-6)
    # A probe halfway between ann's two templates is nearer her centre than either template.
    probe = ((e[0] + e[1]) / np.sqrt(2))[None]
    assert match(probe, centres, 0.9)[0].person == "ann"
    assert match(probe, gallery, 0.9)[0].person is None
