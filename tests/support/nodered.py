"""A real Node-RED for the flow test, and what its editor would show: node status and the debug sidebar.

Node-RED comes from ``deploy/node-red/install.sh`` (pinned, in ``.tools/node-red/``). :class:`NodeRed` runs it
headless on a free loopback port with a userDir of its own: no palette manager, telemetry, update check or
diagnostics, so it never reaches for the network. It always starts with ``--safe`` (flows loaded, not
running): the test first attaches a :class:`Comms` listener and only then starts the flows (a deploy, or
``POST /flows/state``), so that nothing the flow shows is missed, not even the events a broker hands over
the moment Node-RED connects. Stopping it (SIGTERM) is a real shutdown, after which the flows file it wrote
is what the next start runs.

:class:`Comms` is the editor's own websocket (``/comms``), read by a few lines of node using the ``ws``
module Node-RED ships: ``status/<node id>`` messages are a node's status, ``debug`` ones the sidebar.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from tests.support.broker import Broker, free_port
from tests.support.data import ROOT
from tests.support.process import log_tail, stop_gently, wait_answering
from tests.support.timing import scaled

NODE_RED_DIR = Path(os.environ.get("NODE_RED_DIR", ROOT / ".tools" / "node-red"))
FLOW = ROOT / "deploy" / "node-red" / "flow.json"

SETTINGS = """module.exports = {{
    uiHost: "127.0.0.1",
    uiPort: {port},
    flowFile: "flows.json",
    credentialSecret: false,
    mqttReconnectTime: 1000,
    runtimeState: {{ enabled: true, ui: false }},
    diagnostics: {{ enabled: false, ui: false }},
    telemetry: {{ enabled: false, updateNotification: false }},
    externalModules: {{ autoInstall: false, palette: {{ allowInstall: false }}, modules: {{ allowInstall: false }} }},
    editorTheme: {{ tours: false }},
    logging: {{ console: {{ level: "info", metrics: false, audit: false }} }},
}};
"""
"""Only what a headless, offline test run needs; ``mqttReconnectTime`` (default 15 s) keeps reconnects quick."""

COMMS_CLIENT = """
const WebSocket = require(process.argv[1]);
const ws = new WebSocket(process.argv[2]);
ws.on("open", () => {
    // In order: once the retained runtime-state notification arrives, the first two are in force.
    for (const topic of ["status/#", "debug", "notification/runtime-state"]) {
        ws.send(JSON.stringify({ subscribe: topic }));
    }
});
ws.on("message", (data) => {
    for (const message of JSON.parse(data)) { process.stdout.write(JSON.stringify(message) + "\\n"); }
});
ws.on("close", () => process.exit(0));
ws.on("error", (err) => { process.stderr.write(String(err) + "\\n"); process.exit(1); });
"""
"""Prints every message Node-RED's editor websocket sends, one JSON object a line."""


def node_red_script() -> Path:
    """Node-RED's entry point, as installed from this checkout's lock file (install.sh stamps it with its hash)."""
    script = NODE_RED_DIR / "node_modules" / "node-red" / "red.js"
    stamp = NODE_RED_DIR / ".installed-from"
    lock = hashlib.sha256((ROOT / "deploy" / "node-red" / "package-lock.json").read_bytes()).hexdigest()
    if not script.is_file() or not stamp.is_file() or stamp.read_text().strip() != lock:
        state = "is not installed" if not script.is_file() else "is not the one deploy/node-red/package-lock.json pins"
        pytest.fail(f"Node-RED in {NODE_RED_DIR} {state}: run deploy/node-red/install.sh (deploy/test-tools.sh does)")
    return script


def shipped_flow(broker: Broker) -> list[dict[str, Any]]:
    """``deploy/node-red/flow.json`` as a user would import it, its broker node set to ``broker``."""
    flow: list[dict[str, Any]] = json.loads(FLOW.read_text())
    [config] = [node for node in flow if node["type"] == "mqtt-broker"]
    config.update(broker=broker.host, port=str(broker.port))
    return flow


@dataclass(frozen=True)
class Status:
    """A node's status as the editor draws it under the node."""

    text: str
    fill: str | None
    shape: str | None


class Comms:
    """A listener on Node-RED's ``/comms`` websocket; entering waits until its subscriptions are in force."""

    def __init__(self, port: int) -> None:
        ws = NODE_RED_DIR / "node_modules" / "ws"
        self._proc = subprocess.Popen(
            ["node", "-e", COMMS_CLIENT, str(ws), f"ws://127.0.0.1:{port}/comms"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._messages: list[tuple[str, Any]] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="node-red-comms", daemon=True)
        self._reader.start()

    def __enter__(self) -> Comms:
        try:
            self.wait(lambda: any(t == "notification/runtime-state" for t, _ in self._messages), 10, "comms to answer")
        except AssertionError:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
        self._proc.wait(5)
        self._reader.join(5)

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            message = json.loads(line)
            with self._cond:
                self._messages.append((message["topic"], message["data"]))
                self._cond.notify_all()

    def wait(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        """Return once ``condition()`` holds (it is checked on each message); AssertionError on timeout (scaled)."""
        timeout = scaled(timeout)
        with self._cond:
            if not self._cond.wait_for(condition, timeout):
                raise AssertionError(f"Node-RED did not show {what} within {timeout}s{self._exited()}")

    def _exited(self) -> str:
        if self._proc.poll() is None or self._proc.stderr is None:
            return ""
        return f" (the comms listener exited: {self._proc.stderr.read().strip()!r})"

    def statuses(self, node_id: str) -> list[Status]:
        """Every status node ``node_id`` showed, oldest first (cleared ones left out)."""
        with self._cond:
            return [
                Status(str(data["text"]), data.get("fill"), data.get("shape"))
                for topic, data in self._messages
                if topic == f"status/{node_id}" and "text" in data and data["text"] != ""
            ]

    def status(self, node_id: str) -> Status | None:
        shown = self.statuses(node_id)
        return shown[-1] if shown else None

    def wait_status(self, node_id: str, text: str, timeout: float = 10.0) -> Status:
        """The status of ``node_id`` once its text is ``text``."""
        self.wait(lambda: (s := self.status(node_id)) is not None and s.text == text, timeout, f"{node_id}: {text!r}")
        status = self.status(node_id)
        assert status is not None
        return status

    def debug(self, node_id: str) -> list[Any]:
        """What debug node ``node_id`` sent to the sidebar, oldest first: strings as they are, objects decoded."""
        with self._cond:
            sent = [data for topic, data in self._messages if topic == "debug" and data["id"] == node_id]
        return [json.loads(data["msg"]) if data.get("format") == "Object" else data["msg"] for data in sent]

    def wait_debug(self, node_id: str, count: int, timeout: float = 10.0) -> list[Any]:
        """The sidebar messages of ``node_id`` once there are at least ``count``."""
        self.wait(lambda: len(self.debug(node_id)) >= count, timeout, f"{count} debug messages from {node_id}")
        return self.debug(node_id)


class NodeRed:
    """Node-RED in a child process on ``port``, its userDir (settings, flows, log) in ``workdir``."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.script = node_red_script()
        self.workdir = workdir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "node-red.log"
        (workdir / "settings.js").write_text(SETTINGS.format(port=self.port))
        self._proc: subprocess.Popen[bytes] | None = None
        self.comms: Comms | None = None

    def __enter__(self) -> NodeRed:
        self.start()
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> Comms:
        """Start it with the flows stopped, attach a fresh :class:`Comms` and return it."""
        assert self._proc is None, "Node-RED is already running"
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                ["node", str(self.script), "--safe", "--userDir", str(self.workdir), "--settings", "settings.js"],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env={**os.environ, "NODE_RED_DISABLE_TELEMETRY": "1"},
            )
        try:
            wait_answering(self._proc, self._answers, timeout, f"Node-RED on {self.url}", self.log_tail)
            self.comms = Comms(self.port).__enter__()
        except BaseException:
            self.stop()
            raise
        return self.comms

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/settings", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        """A clean shutdown (SIGTERM), as systemd or ``docker stop`` would do it."""
        proc, self._proc = self._proc, None
        stop_gently(proc, 15)
        if self.comms is not None:
            self.comms.close()
            self.comms = None

    def _api(self, method: str, path: str, body: object = None, **headers: str) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Content-Type": "application/json", **headers},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def deploy(self, flow: list[dict[str, Any]]) -> None:
        """Replace all flows with ``flow`` and start them, as the editor's *Deploy* does (admin API)."""
        self._api("POST", "/flows", flow, **{"Node-RED-Deployment-Type": "full"})

    def start_flows(self) -> None:
        """Start the flows it loaded from its flows file (it always starts with them stopped)."""
        state = self._api("POST", "/flows/state", {"state": "start"})
        assert state == {"state": "start"}, state

    def flow_context(self, flow_id: str, key: str) -> Any:
        """A value of the flow context of tab ``flow_id``, as the editor's *Context Data* sidebar reads it."""
        shown = self._api("GET", f"/context/flow/{flow_id}/{key}?store=memory")
        return json.loads(shown["msg"]) if shown.get("format", "").startswith("Object") else shown.get("msg")

    def log_tail(self, lines: int = 40) -> str:
        return log_tail((self.log_path,), lines)
