"""The shipped Node-RED flow (deploy/node-red/flow.json) in a real Node-RED, fed by a real door and its camera.

What its user sees: node status and the debug sidebar, read from the editor's websocket; that events a
door publishes while Node-RED is down reach the flow once it is back; and when a door or its camera goes
offline and comes back, from the door's own retained availability (its last will too) and health topics.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from edgeface.config import RemoteUnlockConfig
from edgeface.values import Decision, EventType
from tests.support.broker import Broker, Collector, fresh_device_id
from tests.support.configs import mqtt_section, service_config, write_config
from tests.support.data import LIN
from tests.support.data import STRANGER as STRANGER_PHOTO
from tests.support.door import Door, running_door
from tests.support.events import make_event
from tests.support.nodered import Comms, NodeRed, Status, shipped_flow
from tests.support.process import DaemonProcess
from tests.support.scenes import empty_scene, show, still_frames
from tests.support.timing import wait_until

pytestmark = pytest.mark.slow

# The flow's nodes, by the ids it ships with.
EVENTS_IN, DEDUPE, EVENT, GRANTED, DENIED, STRANGER, DOOR = (
    "edgeface.events",
    "edgeface.dedupe",
    "edgeface.show",
    "edgeface.granted",
    "edgeface.denied",
    "edgeface.unknown",
    "edgeface.doorshow",
)
TAB, HEALTH_IN, UPDOWN, WENT_OFFLINE, CAME_BACK = (
    "edgeface.tab",
    "edgeface.health",
    "edgeface.updown",
    "edgeface.down",
    "edgeface.up",
)
CONNECTED = "node-red:common.status.connected"


@pytest.fixture(scope="module")
def node_red(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeRed]:
    """Node-RED with the shipped flow deployed through its admin API, its broker node set to the test broker."""
    with NodeRed(tmp_path_factory.mktemp("node-red")) as red:
        assert red.comms is not None
        red.deploy(shipped_flow(broker))
        red.comms.wait_status(EVENTS_IN, CONNECTED)
        yield red


@pytest.fixture(scope="module")
def door(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    """A door on the test broker, remote unlock on, "lin" enrolled; its camera shows an empty room until a test
    puts someone in front of it (:func:`tests.support.scenes.show`)."""
    tmp_path = tmp_path_factory.mktemp("door")
    unlock = RemoteUnlockConfig(enabled=True, max_seconds=1.0)
    cfg = service_config(tmp_path, empty_scene(tmp_path / "camera"), broker, remote_unlock=unlock)
    with running_door(cfg, enrol=[("lin", LIN)], watch=broker) as running:
        yield running


def texts(comms: Comms, node_id: str) -> list[str]:
    return [status.text for status in comms.statuses(node_id)]


def count(comms: Comms, node_id: str) -> int:
    """A counting debug node's figure (how many messages it had since the deploy)."""
    shown = comms.status(node_id)
    return int(shown.text) if shown else 0


def test_each_decision_shows_who_and_which_door_on_node_status_and_the_whole_event_in_the_sidebar(
    node_red: NodeRed, door: Door, tmp_path: Path
) -> None:
    comms, here, camera = node_red.comms, door.cfg.device_id, door.cfg.camera.path
    assert comms is not None and camera is not None
    # The door state topic's '+' takes a door the flow was never told about; its retained state shows at once.
    comms.wait(lambda: f"{here} locked" in texts(comms, DOOR), 10, "the new door's retained state")
    before = {node: count(comms, node) for node in (GRANTED, DENIED, STRANGER)}
    sent = len(door.events())

    door.collector.send(door.topic("cmd/unlock"), b"{}")
    remote = comms.wait_status(EVENT, f"remote unlock at {here}")
    comms.wait(lambda: texts(comms, DOOR)[-2:] == [f"{here} unlocked", f"{here} locked"], 10, "the pulse")
    show(Path(camera), still_frames(tmp_path / "lin", LIN))
    granted = comms.wait_status(EVENT, f"lin at {here}", timeout=30)
    show(Path(camera), still_frames(tmp_path / "stranger", STRANGER_PHOTO))
    stranger = comms.wait_status(EVENT, f"stranger at {here}", timeout=30)
    show(Path(camera), empty_scene(tmp_path / "empty"))
    door.service.door.act(Decision(EventType.DENIED, "bob", 0.62, 3, reason="schedule"))  # as the schedule check does
    denied = comms.wait_status(EVENT, f"denied: bob at {here}")

    assert [remote.fill, granted.fill, stranger.fill, denied.fill] == ["green", "green", "yellow", "red"]
    published = door.events()[sent:]
    assert [(e["type"], e["person"], e.get("reason")) for e in published] == [
        ("granted", None, "remote"),
        ("granted", "lin", None),
        ("unknown", None, None),
        ("denied", "bob", "schedule"),
    ]
    # The sidebar has each event exactly as the door published it; "granted" names the remote unlock.
    assert comms.debug(EVENT)[-4:] == published
    assert comms.wait_debug(GRANTED, 2)[-2:] == ["remote unlock", "lin"]
    assert comms.wait_debug(STRANGER, 1)[-1] == published[2]
    assert comms.wait_debug(DENIED, 1)[-1] == published[3]
    comms.wait(
        lambda: {node: count(comms, node) - before[node] for node in before} == {GRANTED: 2, DENIED: 1, STRANGER: 1},
        5,
        "the counters of the three outputs",
    )


def test_a_repeated_delivery_of_an_event_is_shown_once(node_red: NodeRed, broker: Broker) -> None:
    comms = node_red.comms
    assert comms is not None
    here = fresh_device_id()
    first, second = (make_event(n, device=here).to_dict() for n in range(2))
    with Collector(broker, [f"edgeface/{here}/event"]) as publisher:
        for event in (first, first, second):  # QoS 1 redelivers when a PUBACK is lost
            publisher.send(f"edgeface/{here}/event", json.dumps(event))
        comms.wait(lambda: second in comms.debug(EVENT), 10, "the second event")
    assert [e["id"] for e in comms.debug(EVENT) if e["device"] == here] == [first["id"], second["id"]]


def test_a_payload_that_is_no_event_costs_one_line_and_the_next_event_still_shows(
    node_red: NodeRed, broker: Broker
) -> None:
    comms = node_red.comms
    assert comms is not None
    topic = f"edgeface/{fresh_device_id()}/event"
    event = make_event(0, device=topic.split("/")[1]).to_dict()
    errors, warnings = len(comms.debug(EVENTS_IN)), len(comms.debug(DEDUPE))
    with Collector(broker, [topic]) as publisher:
        for payload in ("{", '"hello"', json.dumps({"type": "granted", "person": "eve"}), json.dumps(event)):
            publisher.send(topic, payload)
        comms.wait(lambda: event in comms.debug(EVENT), 10, "the event after the bad payloads")
    assert comms.debug(EVENTS_IN)[errors:] == ["Failed to parse JSON string"]
    assert comms.debug(DEDUPE)[warnings:] == [f"not an edgeface event on {topic}"] * 2


def test_a_door_going_offline_and_its_camera_failing_show_on_status_and_reach_the_two_outputs(
    node_red: NodeRed, broker: Broker, tmp_path: Path
) -> None:
    comms = node_red.comms
    assert comms is not None
    camera = empty_scene(tmp_path / "camera")
    config = write_config(
        tmp_path / "edgeface.yaml",
        camera={"path": str(camera), "fps": 30, "reopen_max_seconds": 0.4},
        mqtt=mqtt_section(broker),
    )
    offline, camera_offline, online = (
        Status(f"{door_id(config)} {state}", fill, shape)
        for state, fill, shape in (
            ("offline", "red", "ring"),
            ("camera offline", "yellow", "ring"),
            ("online", "green", "dot"),
        )
    )
    with DaemonProcess(config) as daemon, Collector(broker, [f"{daemon.prefix}/health"]) as health:
        health.wait(1, timeout=30)  # the frame loop runs: it connects to the broker before it opens the camera
        assert comms.wait_status(UPDOWN, online.text) == online
        hidden = camera.rename(camera.with_name("camera.gone"))  # the camera vanishes: the daemon runs on
        assert comms.wait_status(UPDOWN, camera_offline.text) == camera_offline
        hidden.rename(camera)
        assert comms.wait_status(UPDOWN, online.text) == online
        assert daemon.terminate() == 0  # a clean stop publishes "offline" itself
        assert comms.wait_status(UPDOWN, offline.text) == offline
    with DaemonProcess(config) as daemon:
        assert comms.wait_status(UPDOWN, online.text, timeout=30) == online
        daemon.kill()  # kill -9: only the broker can say so, with the last will
        assert comms.wait_status(UPDOWN, offline.text) == offline
    assert node_red.flow_context(TAB, "doors")[door_id(config)] == "offline"

    # Each change once, on its output, the whole message in the sidebar: just after the status shows it.
    went = [(m["payload"], m["state"], m["was"]) for m in sent_about(comms, WENT_OFFLINE, door_id(config), 3)]
    assert went == [
        (camera_offline.text, "camera offline", "online"),
        (offline.text, "offline", "online"),  # the clean stop
        (offline.text, "offline", "online"),  # the last will
    ]
    back = [(m["payload"], m["state"], m["was"]) for m in sent_about(comms, CAME_BACK, door_id(config), 2)]
    assert back == [(online.text, "online", "camera offline"), (online.text, "online", "offline")], (
        "back after the camera and after the restart; not at the first start"
    )


def test_a_payload_that_is_no_availability_or_health_costs_one_line_and_changes_nothing(
    node_red: NodeRed, broker: Broker
) -> None:
    comms = node_red.comms
    assert comms is not None
    here = fresh_device_id()
    availability, health = f"edgeface/{here}/availability", f"edgeface/{here}/health"
    errors, warnings = len(comms.debug(HEALTH_IN)), len(comms.debug(UPDOWN))
    with Collector(broker, [f"edgeface/{here}/#"]) as publisher:
        publisher.send(availability, "maybe")
        publisher.send(health, "{")
        publisher.send(health, json.dumps({"broker": "online"}))
        publisher.send(health, json.dumps({"camera": "offline", "broker": "online"}))
        comms.wait_status(UPDOWN, f"{here} camera offline")
    assert comms.debug(HEALTH_IN)[errors:] == ["Failed to parse JSON string"]
    assert comms.debug(UPDOWN)[warnings:] == [
        f"not an edgeface availability on {availability}",
        f"not an edgeface health on {health}",
    ]
    # The sidebar gets the change just after the status shows it.
    assert [m["payload"] for m in sent_about(comms, WENT_OFFLINE, here, 1)] == [f"{here} camera offline"]


def door_id(config: Path) -> str:
    return str(yaml.safe_load(config.read_text())["device_id"])


def sent_about(comms: Comms, node_id: str, here: str, count: int) -> list[dict[str, Any]]:
    """What debug node ``node_id`` sent to the sidebar about door ``here``, once there are ``count``."""

    def mine() -> list[dict[str, Any]]:
        return [m for m in comms.debug(node_id) if m["door"] == here]

    comms.wait(lambda: len(mine()) >= count, 5, f"{count} messages about {here} from {node_id}")
    return mine()


def test_events_published_while_node_red_is_down_reach_the_flow_when_it_is_back(node_red: NodeRed, door: Door) -> None:
    here = door.cfg.device_id
    sent = len(door.events())
    node_red.stop()
    for decision in (
        Decision(EventType.UNKNOWN, None, 0.18, 3),
        Decision(EventType.DENIED, "cy", 0.55, 3, reason="spoof"),
        Decision(EventType.GRANTED, "dee", 0.8, 3),
    ):
        door.service.door.act(decision)
    wait_until(lambda: len(door.events()) == sent + 3, 10, "the broker taking the three events")
    published = door.events()[sent:]

    comms = node_red.start()  # with its flows stopped: the comms listener sees all they do once started
    node_red.start_flows()
    comms.wait_status(EVENTS_IN, CONNECTED)
    shown = comms.wait_debug(EVENT, 3)
    assert shown == published, "each event once, in order, as published"
    assert comms.wait_status(EVENT, f"dee at {here}").fill == "green"
    comms.wait(lambda: [count(comms, n) for n in (GRANTED, DENIED, STRANGER)] == [1, 1, 1], 5, "a count of 1 each")
