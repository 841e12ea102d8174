"""A real Home Assistant core, set up through its own APIs as a new user sets it up, on the session's broker.

``deploy/homeassistant.sh`` installs the pinned core in a venv of its own under ``.tools/homeassistant/``
(``make test`` and ``make test-ha`` run it). The ``home_assistant`` fixture starts one per test module,
headless on a free loopback port, from a minimal ``configuration.yaml``: no ``default_config``, only
``http`` on 127.0.0.1 beside the integrations the core always sets up (frontend, onboarding, ...). Then,
as the UI would: the onboarding creates the owner (``/api/onboarding/users`` → an auth code →
``/auth/token``), and the MQTT integration is added through the config-flow REST API, pointed at the
session's mosquitto. Home Assistant runs with ``--skip-pip``: it installs nothing while the tests run,
so a requirement the install step missed shows as an integration that failed to set up
(:meth:`HomeAssistant.errors`), not as a download.

Tests read entities with :meth:`HomeAssistant.state` (``/api/states/<entity_id>``) and act with
:meth:`HomeAssistant.call` (``/api/services/<domain>/<service>``). A :class:`StateLog` polls entities on a
thread and keeps every distinct state it saw, for states that a later one soon replaces;
:func:`watched_door` runs a door whose decisions all reach Home Assistant (:class:`HeldCamera`).
"""

from __future__ import annotations

import json
import logging
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from edgeface.capture.camera import Camera
from edgeface.config import Config
from edgeface.values import Frame
from tests.support.broker import Broker, free_port
from tests.support.cameras import WrappedCamera
from tests.support.data import ROOT
from tests.support.door import Door, Enrolment, running_door
from tests.support.process import log_tail, stop_gently, wait_answering
from tests.support.timing import wait_until

log = logging.getLogger(__name__)

HA_HOME = ROOT / ".tools" / "homeassistant"
HASS = HA_HOME / "venv" / "bin" / "hass"
INSTALL = ROOT / "deploy" / "homeassistant.sh"

START_TIMEOUT = 180.0
"""Seconds for a first start (it writes its storage and compiles nothing; about 10 s here, more under load)."""

CONFIGURATION = """\
homeassistant:
  name: edgeface test
  latitude: 52.52
  longitude: 13.40
  elevation: 34
  unit_system: metric
  time_zone: UTC
  country: DE
  currency: EUR
http:
  server_host: 127.0.0.1
  server_port: {port}
logger:
  default: warning
  logs:
    homeassistant.components.mqtt: info
"""
"""Location and units given, so that no start-up step looks them up on the network."""


class HomeAssistantError(AssertionError):
    """Home Assistant answered with an HTTP error (``status``): the message quotes it."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class HomeAssistant:
    """One ``hass`` process with its own config dir, on ``127.0.0.1:port``."""

    config_dir: Path
    port: int = field(default_factory=free_port)
    token: str | None = field(default=None, init=False, repr=False)
    """The owner's access token, once :meth:`onboard` has logged in."""
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.config_dir / "home-assistant.log"

    def start(self, timeout: float = START_TIMEOUT) -> float:
        """Start it and wait until its HTTP API answers; returns the seconds that took."""
        if not HASS.exists():
            pytest.fail(f"Home Assistant is not installed: run {INSTALL.relative_to(ROOT)} (make test-ha does)")
        self.config_dir.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "configuration.yaml").write_text(CONFIGURATION.format(port=self.port))
        started = time.monotonic()
        with open(self.config_dir / "stdout.log", "ab") as out:
            self._proc = subprocess.Popen(
                [str(HASS), "--config", str(self.config_dir), "--skip-pip", "--log-file", str(self.log_path)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        # Every 0.2 s: each try is an HTTP request to a server busy starting.
        wait_answering(self._proc, self._answers, timeout, f"Home Assistant on {self.url}", self.log_tail, interval=0.2)
        return time.monotonic() - started

    def _answers(self) -> bool:
        try:
            self.request("GET", "/api/onboarding", auth=False)
            return True
        except (OSError, HomeAssistantError):
            return False

    def stop(self, timeout: float = 30.0) -> None:
        proc, self._proc = self._proc, None
        stop_gently(proc, timeout)

    def log_tail(self, lines: int = 40) -> str:
        return log_tail((self.config_dir / "stdout.log", self.log_path), lines)

    def errors(self) -> list[str]:
        """Home Assistant's ERROR log lines: an integration that failed to set up (a requirement the install
        step missed), a discovery config or template it refused, an exception in a callback."""
        if not self.log_path.exists():
            return []
        return [line for line in self.log_path.read_text(errors="replace").splitlines() if " ERROR (" in line]

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, auth: bool = True, form: bool = False
    ) -> Any:
        """One REST call; its decoded JSON answer. An HTTP error raises HomeAssistantError quoting the answer."""
        headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body).encode() if form else json.dumps(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded" if form else "application/json"
        call = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(call, timeout=15) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            answer = exc.read().decode(errors="replace")
            raise HomeAssistantError(f"{method} {path}: HTTP {exc.code}: {answer}", exc.code) from exc

    def onboard(self, username: str = "owner", password: str = "edgeface-test-password") -> None:
        """Create the owner as the onboarding page does and log in with the auth code it returns."""
        client_id = f"{self.url}/"
        user = {"client_id": client_id, "name": "Owner", "username": username, "password": password, "language": "en"}
        code = self.request("POST", "/api/onboarding/users", user, auth=False)["auth_code"]
        grant = {"grant_type": "authorization_code", "code": code, "client_id": client_id}
        self.token = self.request("POST", "/auth/token", grant, auth=False, form=True)["access_token"]
        wait_until(lambda: self.request("GET", "/api/config")["state"] == "RUNNING", 60, "Home Assistant running")

    def add_mqtt(self, broker: Broker) -> dict[str, Any]:
        """Add the MQTT integration as the UI does (config flow, step ``broker``); the created entry."""
        flow = self.request("POST", "/api/config/config_entries/flow", {"handler": "mqtt"})
        assert (flow["type"], flow["step_id"]) == ("form", "broker"), flow
        done = self.request(
            "POST", f"/api/config/config_entries/flow/{flow['flow_id']}", {"broker": broker.host, "port": broker.port}
        )
        assert done["type"] == "create_entry" and done["result"]["state"] == "loaded", done
        entry: dict[str, Any] = done["result"]
        return entry

    def state(self, entity_id: str) -> dict[str, Any] | None:
        """``/api/states/<entity_id>``: state, attributes, times; None while Home Assistant has no such entity."""
        try:
            found: dict[str, Any] = self.request("GET", f"/api/states/{entity_id}")
        except HomeAssistantError as exc:
            if exc.status == 404:
                return None
            raise
        return found

    def states(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.request("GET", "/api/states")
        return found

    def call(self, domain: str, service: str, **data: Any) -> None:
        """Call a service as a dashboard button does (``lock.unlock``, ``entity_id=...``)."""
        self.request("POST", f"/api/services/{domain}/{service}", data)

    def available(self, entity_id: str) -> bool:
        """Whether Home Assistant has the entity and it is not ``unavailable``."""
        found = self.state(entity_id)
        return found is not None and found["state"] != "unavailable"

    def wait_state(self, entity_id: str, state: str, timeout: float = 20.0) -> dict[str, Any]:
        """The entity once its state is ``state``; AssertionError saying what it was instead."""
        return self._wait(entity_id, lambda found: found["state"] == state, f"{entity_id} == {state!r}", timeout)

    def wait_available(self, entity_id: str, timeout: float = 20.0) -> dict[str, Any]:
        """The entity once Home Assistant has it and it is not ``unavailable``."""
        return self._wait(entity_id, lambda found: found["state"] != "unavailable", f"{entity_id} available", timeout)

    def _wait(
        self, entity_id: str, done: Callable[[dict[str, Any]], bool], what: str, timeout: float
    ) -> dict[str, Any]:
        seen: list[dict[str, Any] | None] = [None]

        def reached() -> bool:
            seen[0] = self.state(entity_id)
            return seen[0] is not None and done(seen[0])

        try:
            wait_until(reached, timeout, what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last seen: {seen[0]}") from None
        assert seen[0] is not None
        return seen[0]


class StateLog:
    """Every distinct (state, attributes) of some entities, polled from Home Assistant on a thread.

    A poll every ``interval`` seconds: two changes closer together than that show as the second only,
    so tests look for what they expect among many, never for an exact sequence.
    """

    def __init__(self, hass: HomeAssistant, entity_ids: list[str], interval: float = 0.05) -> None:
        self.hass, self.entity_ids, self.interval = hass, entity_ids, interval
        self._seen: dict[str, list[dict[str, Any]]] = {entity_id: [] for entity_id in entity_ids}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ha-states", daemon=True)

    def __enter__(self) -> StateLog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        wanted = set(self.entity_ids)
        while not self._stop.wait(self.interval):
            try:
                states = self.hass.states()
            except (OSError, HomeAssistantError) as exc:  # a slow answer under load: the next poll catches up
                log.warning("could not poll Home Assistant's states: %s", exc)
                continue
            for found in states:
                if found["entity_id"] in wanted:
                    self._record(found)

    def _record(self, found: dict[str, Any]) -> None:
        with self._lock:
            history = self._seen[found["entity_id"]]
            if not history or (history[-1]["state"], history[-1]["attributes"]) != (
                found["state"],
                found["attributes"],
            ):
                history.append(found)

    def history(self, entity_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._seen[entity_id])


class HeldCamera(WrappedCamera):
    """A camera whose frames the daemon gets only once :meth:`release` is called; until then each read
    times out, as a camera with nothing new to show does.

    MQTT events are not retained: a door whose first face comes before Home Assistant has created
    and subscribed its entities reports a decision that Home Assistant never sees. Holding the frames
    until the entities exist plays a door that Home Assistant has known for long.
    """

    def __init__(self, inner: Camera) -> None:
        super().__init__(inner)
        self._released = threading.Event()

    def release(self) -> None:
        self._released.set()

    def read(self, timeout: float) -> Frame | None:
        if not self._released.wait(timeout):
            return None
        return self.inner.read(timeout)


@dataclass(frozen=True)
class Entities:
    """The entity ids Home Assistant gives one door's discovery: ``<domain>.edgeface_<device id>_<name>``,
    from the device name "edgeface <id>" and each entity's name (has_entity_name): docs/home-assistant.md."""

    device: str

    def id(self, domain: str, name: str) -> str:
        return f"{domain}.edgeface_{self.device}_{name}"

    @property
    def door(self) -> str:
        """The lock (remote unlock on)."""
        return self.id("lock", "door")

    @property
    def last_person(self) -> str:
        return self.id("sensor", "last_person")

    @property
    def decision(self) -> str:
        return self.id("event", "decision")

    @property
    def face(self) -> str:
        return self.id("binary_sensor", "face_present")

    @property
    def camera(self) -> str:
        return self.id("binary_sensor", "camera")

    def all(self) -> list[str]:
        return [self.door, self.last_person, self.decision, self.face, self.camera]


@dataclass(frozen=True)
class WatchedDoor:
    """A running door, its entity ids, and every state Home Assistant showed for them."""

    door: Door
    entities: Entities
    states: StateLog

    def shown(self, entity_id: str, state: str, kind: str) -> bool:
        """Whether Home Assistant showed ``state`` for ``entity_id`` with the id of an event of type ``kind``
        among its attributes (of any such event: events that follow at once hide each other between polls)."""
        ids = {e["id"] for e in self.door.events() if e["type"] == kind}
        return any(s["state"] == state and s["attributes"].get("id") in ids for s in self.states.history(entity_id))

    def event_types(self) -> set[str]:
        """The types of the decisions the door's event entity showed (None before the first)."""
        shown = (s["attributes"].get("event_type") for s in self.states.history(self.entities.decision))
        return {kind for kind in shown if kind is not None}


@contextmanager
def watched_door(
    hass: HomeAssistant, cfg: Config, broker: Broker, *, enrol: Enrolment | None = None
) -> Iterator[WatchedDoor]:
    """:func:`~tests.support.door.running_door` on ``broker`` (remote unlock on in ``cfg``, so the door is
    a lock), its entities' states logged from Home Assistant. Its camera shows nothing until Home
    Assistant has the door's entities, so that Home Assistant sees every decision."""
    entities = Entities(cfg.device_id)
    cameras: list[HeldCamera] = []

    def held(camera: Camera) -> Camera:
        cameras.append(HeldCamera(camera))
        return cameras[0]

    with (
        StateLog(hass, entities.all()) as states,
        running_door(cfg, enrol=enrol, watch=broker, wrap_camera=held) as door,
    ):
        try:
            wait_until(lambda: all(hass.available(e) for e in entities.all()), 30, "the door's entities")
        except AssertionError:
            # Show the camera all the same: the tests of each entity say which one is missing.
            log.warning("Home Assistant lacks some of the entities of %s: %s", cfg.device_id, entities.all())
        cameras[0].release()
        yield WatchedDoor(door, entities, states)


@pytest.fixture(scope="module")
def home_assistant(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HomeAssistant]:
    """A Home Assistant for the module's tests: onboarded, with the MQTT integration on the session's broker.

    Per module, not per session: it leaves the broker to the other tests once its own are done.
    """
    hass = HomeAssistant(tmp_path_factory.mktemp("homeassistant"))
    started = time.monotonic()
    try:
        answered = hass.start()
        hass.onboard()
        hass.add_mqtt(broker)
        log.info(
            "Home Assistant answered after %.1f s, onboarded and on MQTT after %.1f s (%s)",
            answered,
            time.monotonic() - started,
            hass.url,
        )
        yield hass
    finally:
        hass.stop()
