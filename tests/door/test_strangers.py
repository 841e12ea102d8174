"""The stranger gate: one report per door per cooldown, one per stranger while they stay, and a count of the rest."""

from __future__ import annotations

import numpy as np

from edgeface.door.strangers import MAX_FACES, StrangerGate
from edgeface.values import Vectors

SAME = 0.4
"""The similarity from which two faces are one person (the match threshold)."""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def face(seed: int, jitter: float = 0.0) -> Vectors:
    """A unit vector for stranger ``seed``; ``jitter`` moves it a little, as another frame of the same face does."""
    rng = np.random.default_rng(seed)
    vector = rng.standard_normal(128).astype(np.float32)
    if jitter:
        vector += jitter * np.random.default_rng(seed + 10_000).standard_normal(128).astype(np.float32)
    return vector / np.linalg.norm(vector)


def test_one_stranger_report_per_door_per_cooldown_and_the_next_counts_the_rest() -> None:
    clock = Clock()
    gate = StrangerGate(cooldown=60.0, memory=0.0, clock=clock)
    assert gate.admit(face(1), SAME) and gate.take_folded() == 0
    for seed in range(2, 12):  # ten other strangers within the minute: folded
        clock.now += 5
        assert not gate.admit(face(seed), SAME)
    assert gate.folded == 10
    clock.now += 10  # 60 s after the report
    assert gate.admit(face(20), SAME)
    assert gate.take_folded() == 10 and gate.folded == 0


def test_a_reported_stranger_who_stays_around_is_not_reported_again() -> None:
    clock = Clock()
    gate = StrangerGate(cooldown=60.0, memory=600.0, clock=clock)
    assert gate.admit(face(1), SAME)
    for _ in range(30):  # twenty minutes at the door, seen every 40 s (new tracks, each frame a bit different)
        clock.now += 40
        assert not gate.admit(face(1, jitter=0.3), SAME)
    assert gate.take_folded() == 30
    clock.now += 601  # gone for longer than the memory: a new visit
    assert gate.admit(face(1, jitter=0.3), SAME)


def test_a_stranger_only_folded_into_anothers_cooldown_gets_a_report_of_their_own() -> None:
    clock = Clock()
    gate = StrangerGate(cooldown=60.0, memory=600.0, clock=clock)
    assert gate.admit(face(1), SAME)
    clock.now += 30
    assert not gate.admit(face(2), SAME)  # in the door's cooldown
    clock.now += 31
    assert gate.admit(face(2), SAME), "stranger 2 was never reported"
    assert gate.take_folded() == 1
    clock.now += 61
    assert not gate.admit(face(1, jitter=0.3), SAME) and not gate.admit(face(2, jitter=0.3), SAME)


def test_without_a_vector_only_the_door_cooldown_applies_and_zero_cooldowns_report_everything() -> None:
    clock = Clock()
    gate = StrangerGate(cooldown=60.0, memory=600.0, clock=clock)
    assert gate.admit(None, SAME) and not gate.admit(None, SAME)
    clock.now += 60
    assert gate.admit(None, SAME)
    storm = StrangerGate(cooldown=0.0, memory=0.0, clock=clock)
    assert all(storm.admit(face(1), SAME) for _ in range(5)) and storm.take_folded() == 0


def test_a_clock_stepped_back_ends_the_cooldown_and_the_memory_rather_than_freezing_them() -> None:
    clock = Clock()
    gate = StrangerGate(cooldown=60.0, memory=600.0, clock=clock)
    assert gate.admit(face(1), SAME)
    clock.now -= 3600
    assert gate.admit(face(1), SAME)


def test_memory_is_bounded_and_forgets_the_stranger_seen_longest_ago() -> None:
    clock = Clock()
    gate = StrangerGate(cooldown=0.0, memory=3600.0, clock=clock)
    for seed in range(MAX_FACES + 1):
        clock.now += 1
        assert gate.admit(face(seed), SAME)
    assert gate.admit(face(0, jitter=0.3), SAME), "the first stranger was forgotten"
    assert not gate.admit(face(MAX_FACES, jitter=0.3), SAME)


def test_a_report_withdrawn_after_the_gate_let_it_through_neither_starts_a_cooldown_nor_remembers_the_face() -> None:
    clock = Clock()
    gate = StrangerGate(cooldown=60.0, memory=600.0, clock=clock)
    assert gate.admit(face(1), SAME)
    gate.withdraw()  # the decision rate limit dropped that report
    clock.now += 1
    assert gate.admit(face(1, jitter=0.05), SAME), "the same stranger is reported, not folded into a report never made"
    clock.now += 1
    assert not gate.admit(face(2), SAME), "a report that was made still starts the cooldown"
    gate.withdraw()  # only the last admission can be taken back, and it was a fold
    clock.now += 1
    assert not gate.admit(face(3), SAME)
