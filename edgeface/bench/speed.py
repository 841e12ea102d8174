"""``edgeface bench speed``: how long each stage of the real pipeline takes on real frames.

What is measured (the contract behind the numbers in the closing notes):

* Frames come from a video (default: the bundled demo clip), a folder of photos
  or one photo, decoded with OpenCV and looped if the source is short. By default
  each frame is letterboxed onto a 640×480 canvas (scaled to fit, aspect kept,
  black borders), so "a 640×480 frame" means exactly that pixel count whatever
  the clip's size; ``frame_size=None`` keeps the decoded frames as they are.
* The pipeline is the daemon's own :class:`~edgeface.vision.pipeline.FramePipeline`
  over a :class:`~edgeface.vision.recognize.Recognizer` built from the config: detect,
  then the quality gates (size, blur, pose) and the tracker (counted in ``detect_ms``)
  → align every face that passed → embed them in one call → match them against the
  gallery in one matrix product. No liveness check, and nothing is decided, so unlike
  the daemon every face is embedded on every frame (no skip for a face identified a
  moment ago): this is the cost of a frame full of new faces. ``faces`` counts the
  faces embedded, ``detected`` the faces large enough to track.
* The gallery holds ``store_size`` synthetic templates (random unit vectors,
  several per person): the timing of a matrix product does not depend on whose
  faces the rows are, and a benchmark must not read the user's people store.
* The first ``warmup`` frames are run but not measured (onnxruntime allocates
  its arenas and picks kernels on the first runs).

Per-stage units: ``decode_ms``, ``detect_ms``, ``match_ms`` and ``frame_ms`` are
per frame; ``align_ms`` and ``embed_ms`` are per face (a stage's time on a frame
divided by the frame's faces). Stages that only run when there are faces are
sampled on frames with faces. ``frame_ms`` is detect → match on one frame; decode
is reported apart because the daemon decodes on its capture thread. ``liveness_ms``
(per face; with ``liveness.enabled``) is the configured liveness model — the MiniFASNet
pair and the screen cue — run on every embedded face as if each had matched someone:
what the door adds per matched face, kept out of ``frame_ms`` because the daemon runs
it only on faces that matched. ``fps`` is
measured frames / total ``frame_ms``: the rate the pipeline sustains.
"""

from __future__ import annotations

import logging
import resource
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from edgeface.errors import CameraError, ConfigError
from edgeface.liveness.minifasnet import LivenessModel
from edgeface.values import Frame, Image
from edgeface.vision.images import is_photo, load_image, photos_under
from edgeface.vision.match import Gallery
from edgeface.vision.pipeline import FramePipeline
from edgeface.vision.recognize import Recognizer

log = logging.getLogger(__name__)

DEFAULT_FRAME_SIZE = (640, 480)
TEMPLATES_PER_PERSON = 5
"""Synthetic people get this many templates each, like a person enrolled from a handful of photos."""
STAGES = ("decode_ms", "detect_ms", "align_ms", "embed_ms", "match_ms", "frame_ms", "liveness_ms")


@dataclass(frozen=True)
class Stat:
    """Median and 95th percentile of one stage, in milliseconds (None when the stage never ran)."""

    median: float | None
    p95: float | None
    samples: int

    @classmethod
    def of(cls, values: list[float]) -> Stat:
        if not values:
            return cls(None, None, 0)
        arr = np.asarray(values, np.float64)
        return cls(float(np.median(arr)), float(np.percentile(arr, 95)), len(values))

    def to_dict(self) -> dict[str, float | None]:
        return {
            "median": None if self.median is None else round(self.median, 3),
            "p95": None if self.p95 is None else round(self.p95, 3),
        }


@dataclass(frozen=True)
class SpeedReport:
    model: str
    detector: str
    threads: int
    source: str
    frame_size: tuple[int, int]
    frames: int
    faces: int
    detected: int
    templates: int
    people: int
    stages: dict[str, Stat]
    fps: float
    rss_mb: float

    def to_dict(self) -> dict[str, object]:
        """The ``--json`` object: stage keys map to {"median", "p95"} in ms, the rest are scalars."""
        out: dict[str, object] = {name: self.stages[name].to_dict() for name in STAGES}
        out.update(
            fps=round(self.fps, 2),
            faces=self.faces,
            detected=self.detected,
            frames=self.frames,
            rss_mb=round(self.rss_mb, 1),
            model=self.model,
            detector=self.detector,
            threads=self.threads,
            templates=self.templates,
            people=self.people,
            source=self.source,
            frame_size=list(self.frame_size),
        )
        return out

    def table(self) -> list[str]:
        """The report as lines for a terminal."""
        width, height = self.frame_size
        lines = [
            f"{self.model} + {self.detector}, {self.threads} thread(s), {self.source}",
            f"{self.frames} frames of {width}x{height}, {self.detected} faces found, {self.faces} embedded, "
            f"{self.templates} templates ({self.people} people)",
            f"{'stage':<10} {'median':>8} {'p95':>8}  ms",
        ]
        for name in STAGES:
            stat = self.stages[name]
            if stat.median is None or stat.p95 is None:
                lines.append(f"{name:<10} {'-':>8} {'-':>8}")
            else:
                lines.append(f"{name:<10} {stat.median:8.2f} {stat.p95:8.2f}")
        lines.append(f"fps {self.fps:.1f}   peak rss {self.rss_mb:.0f} MB")
        return lines


def synthetic_gallery(templates: int, dim: int, per_person: int = TEMPLATES_PER_PERSON, seed: int = 0) -> Gallery:
    """``templates`` random unit vectors grouped ``per_person`` to a person (the last person may have fewer)."""
    if templates <= 0:
        return Gallery.empty(dim)
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((templates, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    width = len(str((templates - 1) // per_person))
    people = {
        f"person_{i // per_person:0{width}d}": vectors[i : i + per_person] for i in range(0, templates, per_person)
    }
    return Gallery.build(people, dim)


def letterbox(image: Image, size: tuple[int, int], canvas: Image | None = None) -> Image:
    """Fit ``image`` inside a width×height canvas, aspect kept, centred on black."""
    width, height = size
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    if canvas is None or canvas.shape[:2] != (height, width):
        canvas = np.zeros((height, width, 3), np.uint8)
    else:
        canvas.fill(0)
    x0, y0 = (width - nw) // 2, (height - nh) // 2
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    canvas[y0 : y0 + nh, x0 : x0 + nw] = (
        image if (nw, nh) == (w, h) else cv2.resize(image, (nw, nh), None, 0, 0, interp)
    )
    return canvas


class FrameReader:
    """Frames from a video, a folder of photos or one photo, endlessly (a short source starts again)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._photos: list[Path] = []
        self._video: cv2.VideoCapture | None = None
        self._next = 0
        if path.is_dir():
            self._photos = photos_under(path)
            if not self._photos:
                raise ConfigError(f"{path}: no photos in this folder")
        elif not path.is_file():
            raise CameraError(f"{path}: no such video or photo")
        elif is_photo(path):
            self._photos = [path]
        else:
            self._video = self._open_video()

    def _open_video(self) -> cv2.VideoCapture:
        video = cv2.VideoCapture(str(self.path))
        if not video.isOpened():
            raise CameraError(f"{self.path}: OpenCV cannot open this video")
        return video

    def read(self) -> Image:
        if self._photos:
            photo = self._photos[self._next % len(self._photos)]
            self._next += 1
            return load_image(photo)
        assert self._video is not None
        for _ in range(2):
            ok, image = self._video.read()
            if ok and image is not None:
                self._next += 1
                return np.asarray(image, np.uint8)
            if self._next == 0:
                break
            # End of the clip: start again, so any --frames count can be measured on a short clip.
            self._video.release()
            self._video = self._open_video()
        raise CameraError(f"{self.path}: no frame could be decoded")

    def close(self) -> None:
        if self._video is not None:
            self._video.release()
            self._video = None

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()


@dataclass
class _Samples:
    values: dict[str, list[float]] = field(default_factory=lambda: {name: [] for name in STAGES})
    faces: int = 0
    """Faces embedded (those that passed the quality gates)."""
    detected: int = 0

    def add(self, name: str, ms: float) -> None:
        self.values[name].append(ms)


def peak_rss_mb() -> float:
    """Peak resident memory of this process (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _ms(start: int, end: int) -> float:
    return (end - start) / 1e6


class _FrameTimes:
    """The pipeline's stage times for the frame being measured (its :data:`StageTimer`)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = seconds


def run_frame(
    pipeline: FramePipeline,
    times: _FrameTimes,
    frame: Frame,
    samples: _Samples | None,
    liveness: LivenessModel | None = None,
) -> int:
    """One frame through the frame pipeline, each stage's time into ``samples``; returns the faces embedded."""
    times.seconds.clear()
    start = time.perf_counter_ns()
    outcomes = pipeline.process(frame)
    total = _ms(start, time.perf_counter_ns())
    embedded = sum(o.vector is not None for o in outcomes)
    if liveness is not None and embedded:
        start = time.perf_counter_ns()
        liveness.score(frame.image, [o.face for o in outcomes if o.vector is not None])
        if samples is not None:
            samples.add("liveness_ms", _ms(start, time.perf_counter_ns()) / embedded)
    if samples is not None:
        stage = {name: seconds * 1000.0 for name, seconds in times.seconds.items()}
        samples.add("detect_ms", stage["detect"])
        if embedded:
            samples.add("align_ms", stage["align"] / embedded)
            samples.add("embed_ms", stage["embed"] / embedded)
            samples.add("match_ms", stage["match"])
            samples.faces += embedded
        samples.add("frame_ms", total)
        samples.detected += sum(o.track is not None for o in outcomes)
    return embedded


def frames_of(reader: FrameReader, count: int, frame_size: tuple[int, int] | None) -> Iterator[tuple[Image, float]]:
    """``count`` frames with the time each took to decode (letterboxing is preparation, not decode)."""
    canvas: Image | None = None
    for _ in range(count):
        start = time.perf_counter_ns()
        image = reader.read()
        decode = _ms(start, time.perf_counter_ns())
        if frame_size is not None:
            canvas = letterbox(image, frame_size, canvas)
            image = canvas
        yield image, decode


def run_speed(
    recognizer: Recognizer,
    source: Path,
    *,
    frames: int = 200,
    warmup: int = 10,
    store_size: int = 100,
    frame_size: tuple[int, int] | None = DEFAULT_FRAME_SIZE,
    threads: int,
    detector_name: str = "",
    liveness: LivenessModel | None = None,
) -> SpeedReport:
    """Measure the pipeline on ``frames`` frames of ``source`` after ``warmup`` unmeasured ones."""
    if frames < 1:
        raise ConfigError(f"frames must be at least 1, not {frames}")
    if store_size < 0:
        raise ConfigError(f"store size must be 0 or more, not {store_size}")
    profile = recognizer.embedder.profile
    gallery = synthetic_gallery(store_size, profile.output_dim)
    saved = recognizer.gallery
    recognizer.gallery = gallery
    samples = _Samples()
    size: tuple[int, int] | None = frame_size
    times = _FrameTimes()
    # Nothing is ever decided here, so no track is remembered: every face that passes the gates is embedded.
    pipeline = FramePipeline(recognizer, timer=times)
    try:
        with FrameReader(source) as reader:
            for i, (image, decode) in enumerate(frames_of(reader, warmup + frames, frame_size)):
                # Frame times one camera frame apart at 15 fps, so the tracker sees a camera's pace.
                frame = Frame(image, i / 15.0, i)
                if i < warmup:
                    run_frame(pipeline, times, frame, None, liveness)
                    continue
                samples.add("decode_ms", decode)
                run_frame(pipeline, times, frame, samples, liveness)
                size = (image.shape[1], image.shape[0])
    finally:
        recognizer.gallery = saved
    if samples.faces == 0:
        log.warning("%s: no face found in %d measured frames; align, embed and match were not measured", source, frames)
    total = sum(samples.values["frame_ms"])
    return SpeedReport(
        model=profile.name,
        detector=detector_name,
        threads=threads,
        source=str(source),
        frame_size=size or (0, 0),
        frames=frames,
        faces=samples.faces,
        detected=samples.detected,
        templates=len(gallery.vectors),
        people=len(gallery),
        stages={name: Stat.of(samples.values[name]) for name in STAGES},
        fps=frames / (total / 1000.0) if total > 0 else 0.0,
        rss_mb=peak_rss_mb(),
    )
