"""The decider: N-of-M agreement per track, cooldowns, unknown faces, schedules and liveness, on a fake clock."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeface.config import DecideConfig, Window
from edgeface.door.decide import Decider
from edgeface.values import Decision, EventType, Match

# 2026-06-05 is a Friday.
FRIDAY_NOON = datetime(2026, 6, 5, 12, 0)


def seen(person: str | None, similarity: float = 0.8, *, live: bool | None = None) -> Match:
    return Match(person, similarity, person or "alice", 0.1, live=live)


class DecidingDoor:
    """A decider on a fake clock; frame time and the monotonic clock advance together unless told otherwise."""

    def __init__(self, local: datetime = FRIDAY_NOON, **settings: Any) -> None:
        self.now = 1000.0
        self.local = local
        self.decider = Decider(DecideConfig(**settings), clock=lambda: self.now, local_time=lambda: self.local)

    # Steps of 1/8 s keep the times exact binary fractions, so "10 s later" is exactly 10 s later.
    def frame(self, *observations: tuple[int, Match], dt: float = 0.125) -> list[Decision]:
        self.now += dt
        return self.decider.observe(self.now, list(observations))

    def frames(self, count: int, *observations: tuple[int, Match], dt: float = 0.125) -> list[Decision]:
        out: list[Decision] = []
        for _ in range(count):
            out += self.frame(*observations, dt=dt)
        return out


def test_three_of_five_grants_on_the_third_agreeing_frame() -> None:
    door = DecidingDoor(required=3, window=5)
    assert door.frame((1, seen("alice", 0.5))) == []
    assert door.frame((1, seen("alice", 0.75))) == []
    # The similarity is the mean over the agreeing frames.
    assert door.frame((1, seen("alice", 1.0))) == [Decision(EventType.GRANTED, "alice", 0.75, 3, track=1)]


def test_frames_without_the_face_take_a_slot_but_do_not_agree() -> None:
    door = DecidingDoor(required=3, window=5)
    assert door.frame((1, seen("alice"))) == []
    assert door.frame() == []
    assert door.frame((1, seen("alice"))) == []
    assert door.frame() == []
    [granted] = door.frame((1, seen("alice")))
    assert (granted.type, granted.frames) == (EventType.GRANTED, 3)


def test_two_of_five_never_grants() -> None:
    door = DecidingDoor(required=3, window=5)
    decisions: list[Decision] = []
    for i in range(20):
        decisions += door.frame((1, seen("alice"))) if i % 3 == 0 else door.frame()
    assert decisions == []


def test_a_mismatching_person_in_between_neither_counts_nor_resets() -> None:
    door = DecidingDoor(required=3, window=5)
    assert door.frame((1, seen("alice"))) == []
    assert door.frame((1, seen("bob"))) == []
    assert door.frame((1, seen("alice"))) == []
    [granted] = door.frame((1, seen("alice")))
    assert (granted.type, granted.person, granted.frames) == (EventType.GRANTED, "alice", 3)


def test_other_frames_push_old_agreement_out_of_the_window() -> None:
    door = DecidingDoor(required=3, window=5, cooldown_seconds=0)
    door.frames(2, (1, seen("alice")))
    [bob] = door.frames(3, (1, seen("bob")))
    assert bob.person == "bob"
    # alice, bob, bob, bob, alice: only two of the last five are alice.
    assert door.frame((1, seen("alice"))) == []
    assert door.frame((1, seen("alice"))) == []  # bob, bob, alice, alice: the first alice has left
    [alice] = door.frame((1, seen("alice")))
    assert (alice.person, alice.frames) == ("alice", 3)


def test_two_tracks_are_decided_independently() -> None:
    door = DecidingDoor(required=3, window=5)
    assert door.frames(2, (1, seen("alice")), (2, seen("bob"))) == []
    decisions = door.frame((1, seen("alice")), (2, seen("bob")))
    assert {(d.person, d.track) for d in decisions} == {("alice", 1), ("bob", 2)}
    assert all(d.type is EventType.GRANTED for d in decisions)


def test_agreement_is_counted_per_track() -> None:
    door = DecidingDoor(required=3, window=5)
    # Four frames of alice, but two on each track: neither track has three.
    for track in (1, 2, 1, 2):
        assert door.frame((track, seen("alice"))) == []


def test_cooldown_gives_one_event_per_visit_and_a_new_one_after_it() -> None:
    door = DecidingDoor(required=3, window=5, cooldown_seconds=10.0)
    [first] = door.frames(3, (1, seen("alice")))
    assert first.type is EventType.GRANTED
    # Still at the door for 9.875 s (79 frames), and on a second track too: nothing more.
    assert door.frames(79, (1, seen("alice")), (2, seen("alice"))) == []
    [again] = door.frame((1, seen("alice")))  # 10 s after the grant
    assert (again.type, again.person, again.frames) == (EventType.GRANTED, "alice", 5)


def test_a_person_is_decided_once_per_frame_even_without_cooldown() -> None:
    door = DecidingDoor(required=1, window=1, cooldown_seconds=0)
    assert len(door.frame((1, seen("alice")), (2, seen("alice")))) == 1
    assert len(door.frame((1, seen("alice")), (2, seen("alice")))) == 1


def test_unknown_is_reported_once_it_agrees_and_rate_limited_per_track() -> None:
    door = DecidingDoor(required=3, window=5, unknown_cooldown_seconds=30.0)
    assert door.frames(2, (1, seen(None, 0.125))) == []
    [unknown] = door.frame((1, seen(None, 0.125)))
    assert unknown == Decision(EventType.UNKNOWN, None, 0.125, 3, track=1)
    # The same stranger keeps standing there; a second stranger on track 2 is reported on its own.
    decisions = door.frames(10, (1, seen(None, 0.2)), (2, seen(None, 0.1)))
    assert [(d.type, d.track) for d in decisions] == [(EventType.UNKNOWN, 2)]
    assert door.frames(229, (1, seen(None, 0.1))) == []  # up to 29.875 s after the first report
    [later] = door.frame((1, seen(None, 0.1)))
    assert (later.type, later.track) == (EventType.UNKNOWN, 1)


def test_a_recognised_track_is_not_also_reported_unknown() -> None:
    door = DecidingDoor(required=3, window=5, unknown_cooldown_seconds=30.0)
    [granted] = door.frames(3, (1, seen("alice")))
    assert granted.type is EventType.GRANTED
    assert door.frames(5, (1, seen(None, 0.1))) == []  # alice looking away


def test_frames_spread_beyond_window_seconds_do_not_grant() -> None:
    door = DecidingDoor(required=3, window=5, window_seconds=3.0)
    assert door.frames(3, (1, seen("alice")), dt=1.6) == []
    assert door.frames(3, (1, seen("alice")), dt=1.6) == []


def test_frames_exactly_window_seconds_apart_grant() -> None:
    door = DecidingDoor(required=3, window=5, window_seconds=3.0)
    door.now = 0.0  # exact binary fractions, so the span is exactly 3.0
    [granted] = door.frames(3, (1, seen("alice")), dt=1.5)
    assert granted.type is EventType.GRANTED


def test_outside_the_schedule_is_denied_and_never_granted() -> None:
    evenings = [Window(days=["fri"], start=time(18, 0), end=time(22, 0))]
    door = DecidingDoor(required=3, window=5, cooldown_seconds=10.0, schedules={"alice": evenings})
    [denied] = door.frames(3, (1, seen("alice")))
    assert (denied.type, denied.person, denied.reason) == (EventType.DENIED, "alice", "schedule")
    # The denial starts the cooldown too: even once the window opens, nothing until it ends.
    door.local = FRIDAY_NOON.replace(hour=19)
    assert door.frames(79, (1, seen("alice"))) == []
    [granted] = door.frame((1, seen("alice")))
    assert (granted.type, granted.reason) == (EventType.GRANTED, None)


def test_people_not_in_the_schedules_are_always_allowed() -> None:
    door = DecidingDoor(required=1, window=1, schedules={"alice": []})
    [bob] = door.frame((1, seen("bob")))
    [alice] = door.frame((2, seen("alice")))  # listed with no window: never
    assert (bob.type, alice.type) == (EventType.GRANTED, EventType.DENIED)


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (datetime(2026, 6, 5, 23, 0), EventType.GRANTED),  # Friday evening
        (datetime(2026, 6, 6, 3, 0), EventType.GRANTED),  # Saturday early morning: still Friday's window
        (datetime(2026, 6, 6, 6, 0, 0, 999_999), EventType.GRANTED),  # the end is inclusive, to the second
        (datetime(2026, 6, 6, 6, 0, 1), EventType.DENIED),
        (datetime(2026, 6, 5, 3, 0), EventType.DENIED),  # Friday early morning belongs to Thursday
        (datetime(2026, 6, 6, 23, 0), EventType.DENIED),  # Saturday evening
        (datetime(2026, 6, 5, 21, 59), EventType.DENIED),
    ],
)
def test_an_overnight_window_wraps_past_midnight(local: datetime, expected: EventType) -> None:
    night = [Window(days=["fri"], start=time(22, 0), end=time(6, 0))]
    door = DecidingDoor(local, required=1, window=1, schedules={"alice": night})
    [decision] = door.frame((1, seen("alice")))
    assert decision.type is expected


def test_the_default_window_covers_the_last_second_of_the_day() -> None:
    door = DecidingDoor(
        datetime(2026, 6, 5, 23, 59, 59, 500_000), required=1, window=1, schedules={"alice": [Window()]}
    )
    [decision] = door.frame((1, seen("alice")))
    assert decision.type is EventType.GRANTED


def test_frame_time_going_back_drops_the_evidence() -> None:
    door = DecidingDoor(required=3, window=5)
    door.frames(2, (1, seen("alice")))
    assert door.decider.observe(door.now - 3600.0, [(1, seen("alice"))]) == []
    assert door.decider.observe(door.now - 3599.9, [(1, seen("alice"))]) == []
    [granted] = door.decider.observe(door.now - 3599.8, [(1, seen("alice"))])
    assert granted.frames == 3


def test_cooldown_survives_a_wall_clock_step() -> None:
    door = DecidingDoor(required=1, window=1, cooldown_seconds=10.0)
    assert len(door.frame((1, seen("alice")))) == 1
    # NTP steps the wall clock (frame time) by an hour; the monotonic clock moves 0.1 s.
    door.now += 0.1
    assert door.decider.observe(door.now + 3600.0, [(1, seen("alice"))]) == []


def test_reset_drops_evidence_but_keeps_cooldowns() -> None:
    door = DecidingDoor(required=3, window=5, cooldown_seconds=10.0)
    door.frames(2, (1, seen("bob")))
    [alice] = door.frames(3, (2, seen("alice")))
    door.decider.reset(DecideConfig(required=2, window=5, cooldown_seconds=10.0))
    assert door.decider.settings.required == 2
    assert door.frame((1, seen("bob"))) == []  # bob's earlier frames are gone
    assert len(door.frame((1, seen("bob")))) == 1  # two of five now suffice
    assert door.frames(10, (2, seen("alice"))) == []  # alice is still in her cooldown
    assert alice.type is EventType.GRANTED


def test_a_track_observed_twice_in_one_frame_is_refused() -> None:
    door = DecidingDoor()
    with pytest.raises(ValueError, match="track 7"):
        door.frame((7, seen("alice")), (7, seen("bob")))


PEOPLE = ("alice", "bob", None)

settings_strategy = st.integers(1, 5).flatmap(
    lambda required: st.builds(
        DecideConfig,
        required=st.just(required),
        window=st.integers(required, 7),
        window_seconds=st.floats(0.1, 5.0),
        cooldown_seconds=st.sampled_from([0.0, 0.5, 2.0, 10.0]),
        unknown_cooldown_seconds=st.sampled_from([0.0, 1.0, 30.0]),
        schedules=st.sampled_from([{}, {"bob": []}]),
    )
)
frame_strategy = st.tuples(
    st.sampled_from([0.0, 0.05, 0.1, 0.3, 1.0, 4.0]),
    st.dictionaries(st.integers(0, 3), st.tuples(st.sampled_from(PEOPLE), st.floats(-1.0, 1.0)), max_size=4),
)


@given(settings=settings_strategy, frames=st.lists(frame_strategy, max_size=80))
def test_never_more_than_one_decision_per_person_per_cooldown(
    settings: DecideConfig, frames: list[tuple[float, dict[int, tuple[str | None, float]]]]
) -> None:
    now = 0.0
    decider = Decider(settings, clock=lambda: now, local_time=lambda: FRIDAY_NOON)
    decided_at: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for index, (dt, observed) in enumerate(frames):
        now += dt
        matches = {track: seen(person, similarity) for track, (person, similarity) in observed.items()}
        for decision in decider.observe(now, list(matches.items())):
            assert decision.track is not None
            assert decision.person == matches[decision.track].person  # decided on an agreeing frame
            assert settings.required <= decision.frames <= settings.window
            if decision.type is EventType.UNKNOWN:
                assert decision.person is None
                continue
            assert decision.person is not None
            if decision.type is EventType.GRANTED:
                assert decision.person not in settings.schedules
            else:
                assert (decision.type, decision.reason) == (EventType.DENIED, "schedule")
            if decided_at[decision.person]:
                last_index, last_time = decided_at[decision.person][-1]
                assert last_index != index, "two decisions for one person in one frame"
                assert now - last_time >= settings.cooldown_seconds
            decided_at[decision.person].append((index, now))


def test_a_face_too_close_to_someone_enrolled_is_no_evidence_of_a_stranger() -> None:
    door = DecidingDoor(required=3, window=5, unknown_below=0.25)
    # A known face far away or at an angle: below the match threshold, above unknown_below.
    assert door.frames(10, (1, seen(None, 0.3))) == []
    [unknown] = door.frames(3, (2, seen(None, 0.05)))
    assert unknown.type is EventType.UNKNOWN and unknown.track == 2


def test_agreeing_spoof_frames_deny_with_reason_spoof_and_never_grant() -> None:
    door = DecidingDoor(required=3, window=5)
    out = door.frames(40, (1, seen("ann", live=False)))  # 5 s of a picture of ann: one denial, then the cooldown
    assert [(d.type, d.reason, d.person) for d in out] == [(EventType.DENIED, "spoof", "ann")]


def test_live_and_spoof_frames_do_not_agree_with_each_other() -> None:
    door = DecidingDoor(required=3, window=5)
    # 3 live of the last 5: a grant on the third live one
    out = [door.frame((1, seen("ann", live=live))) for live in (True, False, True, False, True)]
    assert [len(d) for d in out] == [0, 0, 0, 0, 1] and out[-1][0].type is EventType.GRANTED


def test_a_persons_fleet_rules_are_checked_as_well_as_the_doors_own_schedule() -> None:
    evenings = [Window(days=["fri"], start=time(18, 0), end=time(22, 0))]
    afternoons = [Window(days=["fri"], start=time(11, 0), end=time(19, 0))]
    door = DecidingDoor(required=1, window=1, cooldown_seconds=0.0, schedules={"alice": evenings})
    door.decider.restrict({"alice": afternoons, "bob": [], "carol": afternoons})
    door.local = FRIDAY_NOON.replace(hour=18, minute=30)  # inside both of alice's windows
    assert [(d.person, d.type) for d in door.frame((1, seen("alice")), (2, seen("bob")), (3, seen("dave")))] == [
        ("alice", EventType.GRANTED),
        ("bob", EventType.DENIED),  # not listed for this door: never
        ("dave", EventType.GRANTED),  # no rules anywhere: always
    ]
    door.local = FRIDAY_NOON  # inside the fleet's window for alice, outside her schedule at this door
    [alice, carol] = door.frame((1, seen("alice")), (3, seen("carol")))
    assert (alice.type, alice.reason, carol.type) == (EventType.DENIED, "schedule", EventType.GRANTED)
    door.decider.reset(door.decider.settings)  # a config reload keeps the store's rules
    door.local = FRIDAY_NOON.replace(hour=21)
    [carol] = door.frame((3, seen("carol")))
    assert (carol.type, carol.reason) == (EventType.DENIED, "schedule")
