"""The daemon's counters, on a Prometheus registry of its own.

They are the one record of what the loop has done: the periodic stats log line, the tests and
Prometheus all read these counters (:meth:`Metrics.total`). Stage-latency histograms are updated by
the frame loop; the gauges (outbox depth, broker link, relay, threshold) and the camera-reconnect
counter read their value from the live objects when Prometheus scrapes, so keeping them costs nothing
per frame. Served over HTTP only when ``metrics.port`` is set, by the same bounded server as the live
view (:mod:`edgeface.daemon.httpserve`): prometheus_client's own server has no connection bound or timeout.

What a scrape shows, and why:

- every label value the daemon can count is there from the start at 0 (each decision type, each
  rate limit), so ``rate()`` and ``increase()`` see the first count instead of a series appearing;
- no ``_created`` series: the text format exports them as gauges named after the counter, which
  doubles the series for nothing a door needs. They are left out of this registry's exposition
  only; prometheus_client's switch for them is process-wide;
- ``edgeface_build_info{version,model} 1`` names the release and the embedder profile in force.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from http import HTTPStatus
from threading import Thread

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from edgeface import __version__
from edgeface.daemon.httpserve import BoundedServer, QuietHandler, stop_server
from edgeface.values import EventType

log = logging.getLogger(__name__)

# Stage latencies on a Pi 4 run from ~1 ms (match) to ~100 ms (a slow frame).
_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)

# The rate limits whose refusals edgeface_rate_limited_total{what} counts; a new limit adds its name here.
RATE_LIMITED = ("decision", "remote unlock", "lock", "stranger")


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None, *, model: str = "") -> None:
        """``model`` names the embedder in ``edgeface_build_info``."""
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.frames = Counter("edgeface_frames", "Frames processed.", registry=r)
        self.faces = Counter("edgeface_faces", "Faces detected.", registry=r)
        self.embedded = Counter("edgeface_faces_embedded", "Faces embedded (passed the quality gates).", registry=r)
        self.decisions = Counter("edgeface_decisions", "Decisions by type.", ["type"], registry=r)
        self.commands = Counter("edgeface_commands", "Remote commands taken from the broker and handled.", registry=r)
        self.rate_limited = Counter(
            "edgeface_rate_limited", "Decisions and remote unlocks refused by a rate limit.", ["what"], registry=r
        )
        self.stage = Histogram(
            "edgeface_stage_seconds", "Time per pipeline stage.", ["stage"], buckets=_BUCKETS, registry=r
        )
        self.outbox = Gauge("edgeface_outbox_events", "Events waiting for the broker.", registry=r)
        self.broker = Gauge("edgeface_broker_connected", "1 while connected to the MQTT broker.", registry=r)
        self.relay = Gauge("edgeface_relay_unlocked", "1 while the door relay is energised.", registry=r)
        self.reconnects = _LiveCounter("edgeface_camera_reconnects", "Camera outages recovered from.")
        r.register(self.reconnects)
        self.threshold = Gauge(
            "edgeface_match_threshold", "Similarity a face must reach to match (it follows the gallery).", registry=r
        )
        self.target_far = Gauge(
            "edgeface_match_target_far", "False-accept rate per attempt the threshold holds (0: fixed).", registry=r
        )
        build = Gauge("edgeface_build_info", "The running release and embedder.", ["version", "model"], registry=r)
        build.labels(__version__, model).set(1)
        for kind in EventType:
            self.decisions.labels(kind.value)
        for what in RATE_LIMITED:
            self.rate_limited.labels(what)
        self._server: _Server | None = None
        self._thread: Thread | None = None

    def watch(
        self,
        *,
        outbox: Callable[[], float],
        broker: Callable[[], float],
        relay: Callable[[], float],
        reconnects: Callable[[], float],
        threshold: Callable[[], float],
        target_far: Callable[[], float],
    ) -> None:
        """Read these values (gauges, and the camera-reconnect counter) from the live parts at scrape time."""
        self.outbox.set_function(outbox)
        self.broker.set_function(broker)
        self.relay.set_function(relay)
        self.reconnects.read = reconnects
        self.threshold.set_function(threshold)
        self.target_far.set_function(target_far)

    def total(self, name: str, **labels: str) -> float:
        """A counter's value so far (``total("decisions", type="granted")``); 0 before its first count."""
        value = self.registry.get_sample_value(f"edgeface_{name}_total", labels or None)
        return value or 0.0

    def observe_stage(self, stage: str, seconds: float) -> None:
        """One stage's time (the frame pipeline's timer)."""
        self.stage.labels(stage).observe(seconds)

    def serve(self, address: str, port: int) -> int:
        """Start the /metrics endpoint; returns the bound port (useful with port 0)."""
        server = _Server((address, port), _Handler, what="metrics", key="metrics")
        server.registry = _WithoutCreated(self.registry)
        self._server, self._thread = server, server.start("edgeface-metrics")
        bound = int(server.server_address[1])
        log.info("metrics on http://%s:%d/metrics", address, bound)
        return bound

    def close(self) -> None:
        stop_server(self._server, self._thread)
        self._server, self._thread = None, None


class _LiveCounter(Collector):
    """A counter whose total another part keeps (the camera counts its own reconnects), read at scrape time."""

    def __init__(self, name: str, documentation: str) -> None:
        self.name, self.documentation = name, documentation
        self.read: Callable[[], float] = lambda: 0.0

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(self.name, self.documentation, value=self.read())


class _WithoutCreated(Collector):
    """A registry's metrics without their ``_created`` samples."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        for metric in self.registry.collect():
            metric.samples = [s for s in metric.samples if s.name != f"{metric.name}_created"]
            yield metric


class _Server(BoundedServer):
    registry: Collector


class _Handler(QuietHandler):
    server: _Server

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] not in ("/", "/metrics"):
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        self.send_body(generate_latest(self.server.registry), CONTENT_TYPE_LATEST)
