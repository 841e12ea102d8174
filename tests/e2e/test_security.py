"""Security: private files, bounded keeping of face images, the unlock secret, rate limits, and MQTT over
TLS with passwords and an ACL taking only signed unlocks that cannot be replayed.

How a signed unlock is checked, field by field: tests/mqtt/test_commands.py.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import ssl
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edgeface.config import Config, DaemonConfig, RemoteUnlockConfig, StoreConfig, parse_config
from edgeface.door.commands import UnlockCommand
from edgeface.errors import ConfigError
from edgeface.mqtt.commands import sign_unlock
from edgeface.mqtt.publisher import MemoryPublisher
from edgeface.ops.enroll import enroll_photos
from edgeface.storage.outbox import Outbox
from edgeface.storage.people import Store
from edgeface.values import Decision, EventType
from edgeface.vision.recognize import Recognizer
from tests.support.broker import Broker, Collector, fresh_device_id
from tests.support.cli import run_edgeface
from tests.support.configs import mqtt_section, service_config, write_config
from tests.support.data import FACES, LIN
from tests.support.door import Bench, running_door, service_bench
from tests.support.process import DaemonProcess
from tests.support.scenes import empty_scene, still_frames
from tests.support.timing import Clock, wait_until

pytestmark = pytest.mark.slow

SECRET = "correct horse battery staple"
TOPIC = "edgeface/door1/cmd/unlock"


# --- files the daemon creates ---------------------------------------------------------------------------------


def test_every_file_the_daemon_creates_is_0600_in_a_0700_directory_whatever_the_umask(tmp_path: Path) -> None:
    config = write_config(tmp_path / "edgeface.yaml", camera={"path": str(empty_scene(tmp_path / "cam"))})
    old = os.umask(0)  # the child inherits a umask that would make everything world-writable
    try:
        daemon = DaemonProcess(config)
    finally:
        os.umask(old)
    with daemon:
        daemon.wait_for("edgeface running")
        state = daemon.state_dir
        files = sorted(p.name for p in state.iterdir())
        assert {"people.db", "people.db-wal", "people.db-shm", "outbox.db", "outbox.db-wal"} <= set(files), files
        assert stat.S_IMODE(state.stat().st_mode) == 0o700
        for path in state.iterdir():
            st = path.stat()
            assert stat.S_IMODE(st.st_mode) == 0o600, f"{path.name}: {stat.S_IMODE(st.st_mode):04o}"
            assert st.st_uid == os.geteuid()
        assert daemon.terminate() == 0


# --- face images: only when configured, and not for ever ------------------------------------------------------


def face_jpegs(store_path: Path) -> list[bytes]:
    with sqlite3.connect(store_path) as db:
        return [bytes(row[0]) for row in db.execute("SELECT jpeg FROM face_images ORDER BY template_id")]


def backdate_images(store_path: Path, days: float, template_ids: tuple[int, ...] | None = None) -> None:
    with sqlite3.connect(store_path) as db:
        where = f"WHERE template_id IN ({','.join(map(str, template_ids))})" if template_ids else ""
        db.execute(f"UPDATE face_images SET created = created - ? {where}", (days * 86_400,))


def on_disk(state: Path, needle: bytes) -> list[str]:
    """Files in ``state`` that still hold ``needle`` anywhere in their bytes."""
    return [p.name for p in state.iterdir() if needle in p.read_bytes()]


def test_face_images_are_kept_only_when_configured(tmp_path: Path, recognizer: Recognizer) -> None:
    with Store(tmp_path / "off" / "people.db") as store:
        list(enroll_photos(recognizer, store, [("lin", LIN)]))
        assert store.image_count() == 0
    with Store(tmp_path / "on" / "people.db", keep_images=True) as store:
        list(enroll_photos(recognizer, store, [("lin", LIN)]))
        assert store.image_count() == 1


def test_expired_face_images_are_deleted_at_start_and_daily_and_gone_from_the_disk(
    tmp_path: Path, recognizer: Recognizer, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = service_config(
        tmp_path, empty_scene(tmp_path / "cam"), store=StoreConfig(keep_images=True, image_retention_days=30)
    )
    other = FACES / "joe_biden" / "1.jpg"
    with Store(cfg.store_path, keep_images=True) as store:
        list(enroll_photos(recognizer, store, [("lin", LIN), ("joe", other)]))
    old, recent = face_jpegs(cfg.store_path)
    backdate_images(cfg.store_path, 31, (1,))  # lin's crop is past the retention period
    caplog.set_level(logging.INFO, logger="edgeface.daemon.jobs")
    offset = [0.0]
    with running_door(cfg, clock=lambda: time.monotonic() + offset[0]) as door:
        wait_until(lambda: door.service.metrics.total("frames") > 2, 10, "the loop running")
        assert face_jpegs(cfg.store_path) == [recent]
        assert "deleted 1 face images older than 30 days (store.image_retention_days)" in caplog.messages
        backdate_images(cfg.store_path, 31)  # a day later, joe's crop has expired too...
        offset[0] = 86_401.0  # ...and the daily purge comes round
        wait_until(lambda: face_jpegs(cfg.store_path) == [], 5, "the daily purge")
        assert door.service.parts.store.people()  # the templates stay: only the pictures go
    for jpeg in (old, recent):
        assert on_disk(cfg.state_dir, jpeg[200:264]) == [], "a deleted face image is still in the files"


def test_face_images_left_in_the_store_are_deleted_when_keeping_is_off(
    tmp_path: Path, recognizer: Recognizer, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = service_config(tmp_path, empty_scene(tmp_path / "cam"))
    with Store(cfg.store_path, keep_images=True) as store:
        list(enroll_photos(recognizer, store, [("lin", LIN)]))
    caplog.set_level(logging.WARNING, logger="edgeface.daemon.jobs")
    with running_door(cfg):
        wait_until(lambda: face_jpegs(cfg.store_path) == [], 5, "the purge at start")
    assert "deleted 1 face images kept in the store: store.keep_images is false" in caplog.messages


# --- remote unlock: off by default, and signed when there is a secret -----------------------------------------


def test_remote_unlock_is_off_by_default_and_the_secret_is_checked_and_hidden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Config().mqtt.remote_unlock.enabled is False
    assert MemoryPublisher().inject("unlock", b"") is None
    with pytest.raises(ConfigError, match=r"mqtt\.remote_unlock\.secret: Value error, must have at least 16"):
        parse_config("mqtt: {remote_unlock: {secret: hunter2}}\n", "t", Path())
    cfg = parse_config(f"mqtt: {{remote_unlock: {{enabled: true, secret: '{SECRET}'}}}}\n", "t", Path())
    assert cfg.model_dump(mode="json")["mqtt"]["remote_unlock"]["secret"] == "**********"
    assert cfg.mqtt.remote_unlock.shared_secret() == SECRET
    monkeypatch.setenv("EDGEFACE_UNLOCK_SECRET", "from-the-environment")
    assert cfg.mqtt.remote_unlock.shared_secret() == "from-the-environment"
    monkeypatch.setenv("EDGEFACE_UNLOCK_SECRET", "short")
    with pytest.raises(ConfigError, match="EDGEFACE_UNLOCK_SECRET: must have at least 16"):
        cfg.mqtt.remote_unlock.shared_secret()


def test_an_empty_unlock_secret_in_the_environment_is_refused_not_taken_as_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Environment=EDGEFACE_UNLOCK_SECRET= (its value lost) would otherwise switch the door to unsigned unlocks.
    config = write_config(tmp_path / "edgeface.yaml", mqtt={"remote_unlock": {"enabled": True}})
    monkeypatch.setenv("EDGEFACE_UNLOCK_SECRET", "")
    for command in (["config", "check"], ["run"]):
        done = run_edgeface("--config", str(config), *command)
        assert done.returncode == 1
        assert done.stderr.splitlines() == [
            "edgeface: error: EDGEFACE_UNLOCK_SECRET: is empty (unset it for unsigned commands, "
            "or give at least 16 characters)"
        ]
    with pytest.raises(ConfigError, match="EDGEFACE_UNLOCK_SECRET: is empty"):
        MemoryPublisher(RemoteUnlockConfig(enabled=True))


def test_with_a_secret_an_unsigned_unlock_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEFACE_UNLOCK_SECRET", SECRET)
    publisher = MemoryPublisher(RemoteUnlockConfig(enabled=True), prefix="edgeface/door1")
    assert publisher.inbox.signed
    assert publisher.inject("unlock", b'{"seconds": 1}') is None
    fresh = sign_unlock(SECRET, TOPIC, ts=int(time.time()), nonce="abcdefgh12345678", seconds="1")
    assert publisher.inject("unlock", fresh) == UnlockCommand(1.0)


# --- rate limits -----------------------------------------------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock(1000.0)


@pytest.fixture
def bench(tmp_path: Path, recognizer: Recognizer, clock: Clock) -> Iterator[Bench]:
    """A Service with a memory publisher, the real store and relay, and a clock the test moves: the tests
    drive act() and handle_command() directly."""
    cfg = service_config(
        tmp_path,
        empty_scene(tmp_path / "cam"),
        daemon=DaemonConfig(decisions_per_minute=3),
        remote_unlock=RemoteUnlockConfig(enabled=True, per_minute=2),
    )
    with service_bench(cfg, recognizer, clock=clock) as bench:
        yield bench


def test_decisions_beyond_the_rate_limit_neither_unlock_nor_flood_with_one_warning(
    bench: Bench, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edgeface.door.ratelimit")
    for _ in range(10):
        bench.service.door.act(Decision(EventType.GRANTED, "lin", 0.9, 3))
        clock.now += 1
    assert len(bench.publisher.events) == 3
    assert [s.state for s in bench.pin.states].count(True) <= 3
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["recognition decision rate limit reached (3 per 60 s): refusing more until the rate drops"]
    clock.now += 60
    bench.service.door.act(Decision(EventType.UNKNOWN, None, 0.1, 3))
    assert len(bench.publisher.events) == 4
    assert "recognition decision rate limit lifted; 7 were refused while it held" in caplog.messages


def test_remote_unlocks_beyond_the_rate_limit_are_refused_and_each_accepted_one_is_audited(
    bench: Bench, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="edgeface.door.ratelimit")
    for _ in range(5):
        assert bench.publisher.inject("unlock", b'{"seconds": 0.1}') is not None
    for command in bench.publisher.commands():
        bench.service.door.handle(command)
    audited = [(e.type, e.reason) for e in bench.publisher.events]
    assert audited == [(EventType.GRANTED, "remote")] * 2
    assert caplog.messages == ["remote unlock rate limit reached (2 per 60 s): refusing more until the rate drops"]


# --- MQTT over TLS, with passwords and an ACL, against the real daemon ------------------------------------------


USERS = {"door": "door-password-1", "operator": "operator-password-2", "viewer": "viewer-password-3"}
DEVICE = "tlsdoor"
PREFIX = f"edgeface/{DEVICE}"


DOOR_WRITES = ("event", "availability", "door", "presence", "health", "snapshot")
"""The topics under its prefix the door's user may write, as docs/home-assistant.md's ACL lists them."""
DOOR_WRITES_BEFORE_HEALTH = DOOR_WRITES[:4]
"""The documented ACL before the door published its health and snapshots."""


@pytest.fixture
def secure_broker(make_broker: Callable[..., Broker], pki: Path, tmp_path: Path) -> Broker:
    """mosquitto with TLS only (client certificates required), passwords and the documented per-user ACL."""
    return start_secure_broker(make_broker, pki, tmp_path, DOOR_WRITES)


def start_secure_broker(
    make_broker: Callable[..., Broker], pki: Path, tmp_path: Path, door_writes: tuple[str, ...]
) -> Broker:
    passwords = tmp_path / "passwords"
    tool = shutil.which("mosquitto_passwd")
    assert tool, "mosquitto_passwd is missing (it ships with mosquitto)"
    for n, (user, password) in enumerate(USERS.items()):
        subprocess.run([tool, *(["-c"] if n == 0 else []), "-b", str(passwords), user, password], check=True)
    acl = tmp_path / "acl"
    acl.write_text(
        "user door\n"
        + "".join(f"topic write {PREFIX}/{topic}\n" for topic in door_writes)
        + "topic write homeassistant/#\n"
        f"topic read {PREFIX}/cmd/#\n"
        "user operator\n"
        f"topic write {PREFIX}/cmd/unlock\ntopic read {PREFIX}/#\n"
        "user viewer\n"
        f"topic read {PREFIX}/#\n"
    )
    extra = (
        f"cafile {pki / 'ca.pem'}\ncertfile {pki / 'server.pem'}\nkeyfile {pki / 'server.key'}\n"
        f"require_certificate true\npassword_file {passwords}\nacl_file {acl}\n"
    )
    return make_broker(anonymous=False, extra=extra)


class TlsCollector(Collector):
    """The test Collector over TLS with a client certificate and a user name."""

    def __init__(self, broker: Broker, topics: list[str], pki: Path, user: str) -> None:
        super().__init__(broker, topics)
        self._client.tls_set(
            ca_certs=str(pki / "ca.pem"), certfile=str(pki / "client.pem"), keyfile=str(pki / "client.key")
        )
        self._client.username_pw_set(user, USERS[user])


def can_connect(broker: Broker, pki: Path, *, user: str, password: str, cert: bool = True, tls: bool = True) -> bool:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{os.urandom(4).hex()}")
    if tls:
        files = {"certfile": str(pki / "client.pem"), "keyfile": str(pki / "client.key")} if cert else {}
        client.tls_set(ca_certs=str(pki / "ca.pem"), **files)
    client.username_pw_set(user, password)
    result: list[bool] = []
    client.on_connect = lambda c, u, f, reason, p: result.append(not reason.is_failure)
    client.on_disconnect = lambda *args: result.append(False)
    client.on_connect_fail = lambda *args: result.append(False)
    try:
        client.connect(broker.host, broker.port, keepalive=5)
        client.loop_start()
        deadline = time.monotonic() + 3
        while not result and time.monotonic() < deadline:
            time.sleep(0.02)
    except (OSError, ssl.SSLError):
        return False
    finally:
        client.loop_stop()
        client.disconnect()
    return bool(result and result[0])


def publish_as(broker: Broker, pki: Path, user: str, topic: str, payload: bytes) -> None:
    """Publish once as ``user`` over TLS (QoS 1) from a throwaway client; the broker may drop it, or us."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{user}-{os.urandom(4).hex()}")
    client.tls_set(ca_certs=str(pki / "ca.pem"), certfile=str(pki / "client.pem"), keyfile=str(pki / "client.key"))
    client.username_pw_set(user, USERS[user])
    client.connect(broker.host, broker.port, keepalive=5)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1).wait_for_publish(2.0)
    except RuntimeError:
        pass  # mosquitto 2.0 cuts off a client whose publish the ACL denies
    finally:
        client.loop_stop()
        client.disconnect()


def tls_config(tmp_path: Path, broker: Broker, pki: Path, camera: Path) -> Path:
    return write_config(
        tmp_path / "edgeface.yaml",
        device_id=DEVICE,
        camera={"path": str(camera), "fps": 15},
        mqtt={
            "enabled": True,
            "host": "localhost",
            "port": broker.port,
            "keepalive": 5,
            "username": "door",
            "tls": {
                "ca_file": str(pki / "ca.pem"),
                "cert_file": str(pki / "client.pem"),
                "key_file": str(pki / "client.key"),
            },
            "remote_unlock": {"enabled": True, "max_seconds": 1},
        },
    )


def test_the_broker_refuses_plaintext_no_certificate_and_a_wrong_password(secure_broker: Broker, pki: Path) -> None:
    assert can_connect(secure_broker, pki, user="viewer", password=USERS["viewer"])
    assert not can_connect(secure_broker, pki, user="viewer", password="wrong")
    assert not can_connect(secure_broker, pki, user="viewer", password=USERS["viewer"], cert=False)
    assert not can_connect(secure_broker, pki, user="viewer", password=USERS["viewer"], tls=False)


def test_the_daemon_over_tls_with_a_password_and_acl_takes_only_signed_unlocks_from_the_operator(
    tmp_path: Path, secure_broker: Broker, pki: Path
) -> None:
    config = tls_config(tmp_path, secure_broker, pki, still_frames(tmp_path / "cam"))
    env = {"EDGEFACE_MQTT_PASSWORD": USERS["door"], "EDGEFACE_UNLOCK_SECRET": SECRET}
    topic = f"{PREFIX}/cmd/unlock"
    with (
        TlsCollector(secure_broker, [f"{PREFIX}/#"], pki, "viewer") as viewer,
        TlsCollector(secure_broker, [f"{PREFIX}/door"], pki, "operator") as operator,
        DaemonProcess(config, env=env) as daemon,
    ):
        daemon.wait_for("connected to MQTT broker localhost")
        viewer.wait(1, f"{PREFIX}/event", timeout=15)  # a stranger's event, over TLS, past the ACL
        assert [m.payload for m in viewer.messages(f"{PREFIX}/availability")][-1] == b"online"

        def fresh(nonce: str) -> bytes:
            return sign_unlock(SECRET, topic, ts=int(time.time()), nonce=nonce, seconds="0.5")

        publish_as(secure_broker, pki, "viewer", topic, fresh("viewer-nonce-01"))  # signed, but the ACL drops it
        operator.send(topic, b'{"seconds": 0.5}')  # allowed to publish, but not signed
        daemon.wait_for("ignoring MQTT command unlock: not signed")
        accepted = fresh("operator-nonce-01")
        operator.send(topic, accepted)
        daemon.wait_for(r"remote unlock for 0\.5 s id=")
        operator.send(topic, accepted)  # a replay
        daemon.wait_for("ignoring MQTT command unlock: replayed nonce")
        stale = sign_unlock(SECRET, topic, ts=int(time.time()) - 60, nonce="operator-nonce-02", seconds="0.5")
        operator.send(topic, stale)
        daemon.wait_for("ignoring MQTT command unlock: stale")
        unlocks = [line for line in daemon.lines() if "remote unlock for" in line]
        assert len(unlocks) == 1, "only the operator's one signed, fresh command opened the door"
        commands = [line for line in daemon.lines() if "MQTT command unlock" in line]
        assert len(commands) == 4, "the daemon saw the operator's four commands, never the viewer's"
        wait_until(lambda: b"unlocked" in [m.payload for m in viewer.messages(f"{PREFIX}/door")], 5, "unlocked")
        assert daemon.terminate() == 0


def test_a_door_whose_acl_predates_its_health_topic_stays_connected_once_refused_and_says_why(
    tmp_path: Path, make_broker: Callable[..., Broker], pki: Path
) -> None:
    # mosquitto 2.0 over TLS drops a client whose publish its ACL denies: a topic it refused is not sent again.
    old = start_secure_broker(make_broker, pki, tmp_path, DOOR_WRITES_BEFORE_HEALTH)
    config = tls_config(tmp_path, old, pki, still_frames(tmp_path / "cam"))
    env = {"EDGEFACE_MQTT_PASSWORD": USERS["door"]}

    def drops() -> int:
        return sum("lost the connection" in line for line in daemon.lines())

    with TlsCollector(old, [f"{PREFIX}/#"], pki, "viewer") as viewer, DaemonProcess(config, env=env) as daemon:
        daemon.wait_for(f"dropped the connection twice right after {PREFIX}/health")
        viewer.wait(1, f"{PREFIX}/event", timeout=15)
        time.sleep(2)  # the reconnect after the second drop
        settled = drops()
        time.sleep(4)  # several reconnect periods: a door that kept publishing it would drop again
        assert drops() == settled <= 2
        assert [m.payload for m in viewer.messages(f"{PREFIX}/availability")][-1] == b"online"
        assert daemon.terminate() == 0
    assert sum("its ACL probably denies it" in line for line in daemon.lines()) == 1


def test_a_captured_signed_unlock_does_not_open_the_door_again_after_a_restart(tmp_path: Path, broker: Broker) -> None:
    device = fresh_device_id("replay")
    unlock = {"enabled": True, "max_seconds": 1}
    config = write_config(
        tmp_path / "edgeface.yaml",
        device_id=device,
        camera={"path": str(empty_scene(tmp_path / "cam"))},
        mqtt=mqtt_section(broker, remote_unlock=unlock),
    )
    topic = f"edgeface/{device}/cmd/unlock"
    captured = sign_unlock(SECRET, topic, ts=int(time.time()), nonce="captured-nonce-01", seconds="0.5")
    env = {"EDGEFACE_UNLOCK_SECRET": SECRET}
    with Collector(broker, [f"edgeface/{device}/door"]) as sender:
        with DaemonProcess(config, env=env) as first:
            first.wait_for("connected to MQTT broker")
            send_until(sender, topic, captured, first, r"remote unlock for 0\.5 s id=")
            assert first.terminate() == 0
        # Restarted well within max_age_seconds (30 s), the command's timestamp still looks fresh.
        with DaemonProcess(config, env=env) as second:
            second.wait_for("connected to MQTT broker")
            send_until(sender, topic, captured, second, "ignoring MQTT command unlock: replayed nonce")
            assert second.terminate() == 0
    assert not [line for line in second.lines() if "remote unlock for" in line]


def send_until(sender: Collector, topic: str, payload: bytes, daemon: DaemonProcess, pattern: str) -> None:
    """Publish ``payload`` until ``daemon`` logs ``pattern``: its subscription may not be in place at once."""
    for _ in range(10):
        sender.send(topic, payload)
        try:
            daemon.wait_for(pattern, 1.0)
            return
        except AssertionError:
            continue
    daemon.wait_for(pattern, 1.0)


def test_a_daemon_with_a_wrong_password_logs_one_line_and_keeps_its_events(
    tmp_path: Path, secure_broker: Broker, pki: Path
) -> None:
    config = tls_config(tmp_path, secure_broker, pki, still_frames(tmp_path / "cam"))
    with DaemonProcess(config, env={"EDGEFACE_MQTT_PASSWORD": "not the password"}) as daemon:
        daemon.wait_for("refused the connection: Not authorized")
        daemon.wait_for("decision type=unknown")
        time.sleep(2.5)  # paho retries meanwhile
        assert daemon.proc.poll() is None, "the daemon keeps running and keeps its events"
        refusals = [line for line in daemon.lines() if "refused the connection" in line]
        assert len(refusals) == 1, refusals
        assert daemon.terminate() == 0
    with Outbox(daemon.state_dir / "outbox.db", 1000) as outbox:
        assert len(outbox) >= 1
