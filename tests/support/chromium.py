"""Headless Chromium driven over the DevTools protocol, for tests that look at a page as a browser shows it.

Debian's ``/usr/bin/chromium`` (deploy/test-tools.sh installs it) speaks the protocol over a pipe
(``--remote-debugging-pipe``: it reads JSON messages from fd 3 and writes them to fd 4, each ended by
a NUL byte), so no WebSocket client is needed. A :class:`Tab` has the size of a phone or a desktop
window, evaluates JavaScript and saves screenshots as PNG files.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import subprocess
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_SECONDS = 30.0


class Chromium:
    """One headless browser process; :meth:`tab` opens pages in it. A context manager."""

    def __init__(self, profile: Path) -> None:
        assert CHROMIUM.exists(), "Debian's chromium is missing: deploy/test-tools.sh installs it (make test)"
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # Above 4, so that moving one onto fd 3 or 4 cannot clobber the other.
        to_browser_r, from_browser_w = (_above_4(fd) for fd in (to_browser_r, from_browser_w))

        # bash (dash takes single-digit fds only) moves the pipe onto fds 3 and 4, where the browser looks for it.
        onto_3_and_4 = f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w} {to_browser_r}<&- {from_browser_w}>&-'
        self.proc = subprocess.Popen(
            [
                "/bin/bash",
                "-c",
                onto_3_and_4,
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(to_browser_r, from_browser_w),
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next_id = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buffer = b""
        while chunk := os.read(self._from_browser, 1 << 16):
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            with self._cond:
                for raw in messages:
                    message = json.loads(raw)
                    if "id" in message:  # events (no id) are not needed: the tests poll the page instead
                        self._replies[message["id"]] = message
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        """Call a protocol method and return its result; AssertionError if it fails or times out."""
        with self._cond:
            self._next_id += 1
            call = self._next_id
        message: dict[str, Any] = {"id": call, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        with self._cond:
            got = self._cond.wait_for(lambda: call in self._replies or not self._reader.is_alive(), TIMEOUT_SECONDS)
            reply = self._replies.pop(call, None)
        assert got and reply is not None, f"chromium gave no answer to {method}"
        assert "error" not in reply, f"{method}: {reply['error']}"
        result: dict[str, Any] = reply.get("result", {})
        return result

    def tab(self, url: str, width: int, height: int) -> Tab:
        """A page of ``width`` × ``height`` CSS pixels (a phone's touch screen below 600 px) loading ``url``."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        tab = Tab(self, session, target)
        mobile = width < 600
        tab.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )
        if mobile:
            tab.send("Emulation.setTouchEmulationEnabled", {"enabled": True})
        tab.send("Page.navigate", {"url": url})
        return tab

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send("Browser.close")
            except (AssertionError, OSError):
                self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for fd in (self._to_browser, self._from_browser):
            with contextlib.suppress(OSError):  # closed already
                os.close(fd)
        self._reader.join(5)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()


def _above_4(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 5)
    os.close(fd)
    return high


class Tab:
    """One page in the browser; a context manager that closes it (a page left open keeps polling its server)."""

    def __init__(self, browser: Chromium, session: str, target: str) -> None:
        self.browser = browser
        self.session = session
        self.target = target

    def close(self) -> None:
        self.browser.send("Target.closeTarget", {"targetId": self.target})

    def __enter__(self) -> Tab:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.send(method, params, self.session)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited); AssertionError if it throws."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        """Save what the viewport shows as a PNG."""
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))
        return path
