"""APCER, BPCER, operating points and intervals that resample subjects."""

from __future__ import annotations

import itertools

from edgeface.bench.rates import (
    Sample,
    apcer,
    bpcer,
    det_points,
    intervals,
    threshold_at_bpcer,
    worst_apcer,
)


def bona(score: float, subject: str = "a") -> Sample:
    return Sample(score, None, subject)


def test_rates_accept_at_or_above_the_threshold_and_rate_the_worst_species() -> None:
    samples = [bona(0.2), bona(0.6), Sample(0.6, "print", "a"), Sample(0.1, "print", "b"), Sample(0.7, "replay", "c")]
    assert bpcer(samples, 0.6) == 0.5
    assert apcer(samples, 0.6, "print") == 0.5 and apcer(samples, 0.6, "replay") == 1.0
    assert worst_apcer(samples, 0.6) == 1.0 and apcer(samples, 0.6, "mask") is None


def test_the_threshold_at_a_bpcer_refuses_at_most_that_share() -> None:
    samples = [bona(i / 100.0) for i in range(100)]
    for target in (0.0, 0.01, 0.05, 0.1):
        threshold = threshold_at_bpcer(samples, target)
        assert threshold is not None
        refused = bpcer(samples, threshold)
        assert refused is not None and refused <= target + 1e-12 and refused > target - 0.011
    assert threshold_at_bpcer([Sample(0.5, "print", "a")], 0.05) is None


def test_intervals_resample_subjects_not_photos() -> None:
    # Two people, thirty near-identical frames each: one always refused, one never. Resampling frames would
    # call BPCER 50 % ± 13 %; resampling the two people says it could be anything.
    samples = [bona(0.1, "refused") for _ in range(30)] + [bona(0.9, "accepted") for _ in range(30)]
    samples += [Sample(0.0, "print", "refused"), Sample(0.0, "print", "accepted")]
    ci = intervals(samples, 0.5)
    assert ci["bpcer"] == (0.0, 1.0) and ci["print"] == (0.0, 0.0)
    assert intervals(samples, 0.5) == ci, "a fixed seed: the same report twice"


def test_the_worst_species_interval_only_counts_draws_with_every_species() -> None:
    samples = [bona(0.9, s) for s in "abcd"] + [Sample(0.9, "replay", "a"), Sample(0.0, "print", "b")]
    ci = intervals(samples, 0.5)
    assert ci["worst"] == (1.0, 1.0), "a draw without the replay subject says nothing about the worst species"


def test_the_det_curve_trades_one_error_for_the_other() -> None:
    samples = [bona(v / 10.0, str(v)) for v in range(10)] + [Sample(v / 20.0, "print", "p") for v in range(10)]
    points = det_points(samples, "print")
    assert [t for t, _, _ in points] == sorted(t for t, _, _ in points)
    assert all(b1 <= b2 and a1 >= a2 for (_, b1, a1), (_, b2, a2) in itertools.pairwise(points))
