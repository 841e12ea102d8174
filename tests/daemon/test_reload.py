"""Reload (SIGHUP): every config section either applies at once or is named as needing a restart; and no reload
(SIGHUP or cmd/reload) throws away the evidence a face in front of the camera has gathered."""

from __future__ import annotations

from datetime import time as dtime
from pathlib import Path
from typing import Any

import pytest

from edgeface.config import Config, RelayConfig, parse_config
from edgeface.daemon.events import EventRecorder
from edgeface.daemon.jobs import PeopleReloads
from edgeface.daemon.loop import PEOPLE_RELOAD_EVERY_SECONDS, Service
from edgeface.daemon.reload import plan_reload
from edgeface.door.controller import DoorController
from edgeface.ops.enroll import photos_in
from edgeface.values import EventType, Frame
from edgeface.vision.images import load_image
from edgeface.vision.pipeline import FramePipeline
from edgeface.vision.recognize import Recognizer
from tests.support.data import DEMO_FACES, LIN
from tests.support.door import service_bench
from tests.support.models import make_config

RUNNING = Config(models_dir=Path("/models"), state_dir=Path("/state"))
LIVE = tuple(key for part in (FramePipeline, DoorController, EventRecorder, Service) for key in part.RELOADS)
"""What the daemon's live parts declare they take on at a reload."""

# One change per top-level section (and per live key inside a mixed section), and where it must land.
CHANGES: list[tuple[str, dict[str, Any], bool]] = [
    ("device_id", {"device_id": "back-door"}, False),
    ("models_dir", {"models_dir": "/elsewhere"}, False),
    ("state_dir", {"state_dir": "/var/other"}, False),
    ("runtime.threads", {"runtime": {"threads": 3}}, False),
    ("detector.score_threshold", {"detector": {"score_threshold": 0.8}}, False),
    ("embedder.profile", {"embedder": {"profile": "mobilefacenet"}}, False),
    ("match.threshold", {"match": {"threshold": 0.5}}, True),
    ("match.margin", {"match": {"margin": 0.05}}, True),
    ("quality.min_face", {"quality": {"min_face": 40}}, True),
    ("store.audit_retention_days", {"store": {"audit_retention_days": 7}}, True),
    ("store.image_retention_days", {"store": {"image_retention_days": 3}}, True),
    ("store.path", {"store": {"path": "other.db"}}, False),
    ("store.keep_images", {"store": {"keep_images": True}}, False),
    ("camera.fps", {"camera": {"fps": 5}}, False),
    ("decide.required", {"decide": {"required": 2}}, True),
    ("decide.stranger_cooldown_seconds", {"decide": {"stranger_cooldown_seconds": 5}}, True),
    ("liveness.enabled", {"liveness": {"enabled": False}}, False),
    ("mqtt.host", {"mqtt": {"host": "broker.lan"}}, False),
    ("mqtt.remote_unlock.per_minute", {"mqtt": {"remote_unlock": {"per_minute": 2}}}, True),
    ("mqtt.remote_unlock.enabled", {"mqtt": {"remote_unlock": {"enabled": True}}}, False),
    ("mqtt.snapshot", {"mqtt": {"snapshot": True}}, True),
    ("mqtt.discovery", {"mqtt": {"discovery": False}}, True),
    ("relay.pulse_seconds", {"relay": {"pulse_seconds": 5}}, True),
    ("relay.pin", {"relay": {"pin": 27}}, False),
    ("metrics.port", {"metrics": {"port": 9100}}, False),
    ("daemon.decisions_per_minute", {"daemon": {"decisions_per_minute": 5}}, True),
    ("daemon.stall_seconds", {"daemon": {"stall_seconds": 60}}, False),
    ("web.enabled", {"web": {"enabled": True}}, False),
    ("faces.recent", {"faces": {"recent": 5}}, False),
    ("fleet.site", {"fleet": {"site": "office"}}, False),
]


def changed(**sections: Any) -> Config:
    data = RUNNING.model_dump(mode="json")
    for key, value in sections.items():
        if isinstance(value, dict):
            data[key] = _merge(data[key], value)
        else:
            data[key] = value
    return Config.model_validate(data)


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        out[key] = _merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return out


def test_every_top_level_section_is_covered_by_the_table() -> None:
    assert {key.split(".")[0] for key, _, _ in CHANGES} == set(Config.model_fields)


@pytest.mark.parametrize(("key", "change", "live"), CHANGES, ids=[c[0] for c in CHANGES])
def test_a_change_is_applied_live_or_named_for_a_restart(key: str, change: dict[str, Any], live: bool) -> None:
    plan = plan_reload(RUNNING, changed(**change), LIVE)
    assert (plan.applied, plan.need_restart) == (((key,), ()) if live else ((), (key,)))
    top, _, rest = key.partition(".")
    if live:
        # The running config takes the new value ...
        section: Any = getattr(plan.config, top)
        for part in rest.split(".") if rest else []:
            section = getattr(section, part)
        assert section == getattr_path(changed(**change), key)
    else:
        # ... or keeps the old one until the restart, rather than half applying it.
        assert plan.config == RUNNING


def getattr_path(cfg: Config, key: str) -> Any:
    value: Any = cfg
    for part in key.split("."):
        value = getattr(value, part)
    return value


def test_mixed_changes_apply_the_live_part_and_keep_the_rest() -> None:
    loaded = changed(match={"threshold": 0.45}, camera={"fps": 5}, device_id="side")
    plan = plan_reload(RUNNING, loaded, LIVE)
    assert plan.applied == ("match.threshold",)
    assert plan.need_restart == ("camera.fps", "device_id")
    assert plan.config.match.threshold == 0.45
    assert plan.config.camera.fps == RUNNING.camera.fps and plan.config.device_id == RUNNING.device_id


def test_a_schedule_added_and_removed_follows_the_file() -> None:
    window = {"days": ["mon"], "start": dtime(8).isoformat(), "end": dtime(17).isoformat()}
    with_schedule = changed(decide={"schedules": {"alice": [window]}})
    plan = plan_reload(RUNNING, with_schedule, LIVE)
    assert plan.applied == ("decide.schedules.alice",)
    assert list(plan.config.decide.schedules) == ["alice"]
    back = plan_reload(plan.config, RUNNING, LIVE)
    assert back.config.decide.schedules == {}


def test_an_unchanged_file_changes_nothing() -> None:
    plan = plan_reload(RUNNING, parse_config(RUNNING.model_dump_json(), "same", Path("/")), LIVE)
    assert plan.applied == plan.need_restart == () and plan.config == RUNNING


def test_live_keys_name_real_config_keys() -> None:
    for key in LIVE:
        getattr_path(RUNNING, key)


@pytest.mark.slow
def test_reloads_between_the_frames_of_a_visit_neither_stop_nor_repeat_its_grant(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, relay=RelayConfig(pulse_seconds=0.2, pin_factory="mock"))
    longer_pulse = cfg.model_copy(update={"relay": RelayConfig(pulse_seconds=0.3, pin_factory="mock")})
    photo = load_image(LIN)
    with (
        Recognizer.from_config(cfg) as recognizer,
        service_bench(cfg, recognizer, enrol=photos_in(DEMO_FACES)) as bench,
    ):
        decisions = []
        for k in range(3 * cfg.decide.required):
            bench.service.reload_people()  # what cmd/reload does
            for part in bench.service.live:  # a SIGHUP that changes no evidence rule
                part.apply(longer_pulse if k % 2 else cfg)
            decisions += bench.service.process(Frame(photo, 1000.0 + k / 10, k))
    assert [(d.type, d.person) for d in decisions] == [(EventType.GRANTED, "lin_manuel_miranda")]


def test_cmd_reload_rereads_the_people_at_most_every_few_seconds_a_change_of_the_daemons_own_at_once() -> None:
    every = PEOPLE_RELOAD_EVERY_SECONDS
    people = PeopleReloads(every)
    assert not people.due(0.0), "nothing asked"
    people.request()
    assert people.due(0.0)
    people.request()
    people.request()
    assert not people.due(1.0), "a cmd/reload soon after a reload waits (anyone who may publish can send it)"
    # The fleet intake took a removal: the door must stop letting that person in now, not seconds later.
    people.changed()
    assert people.due(1.5)
    assert not people.due(1.6) and not people.due(1.5 + every), "that reload took the waiting cmd/reloads too"
    people.changed()
    assert people.due(1.7), "a change right after a reload is read at once as well"
    people.request()
    assert not people.due(1.7 + every - 0.1)
    assert people.due(1.7 + every), "merged, never lost"
