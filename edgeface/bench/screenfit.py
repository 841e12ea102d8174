"""Fitting the screen cue (:mod:`edgeface.liveness.screen`) on presentation-attack sets, and scoring every
source with a cue that never saw it.

Each part of the cue (:data:`PARTS`) is a logistic regression (L2, Newton's method, plain numpy) of bona
fide faces against **replays** (prints are MiniFASNet's job; a print-trained cue would learn pad-dev's one
office), on the photos of the capture kinds its spec names. Each (source, class) group weighs the same in
the fit, so NUAA's 480 frames of one office count no more than a webcam set of 25.

:func:`leave_one_source_out` is what keeps the figures honest: every source is scored by a cue fitted on
all the other sources, because frames of one source share a webcam, a room and a screen, and a cue that
has seen them recognises the source, not the attack.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edgeface.bench.padset import Manifest
from edgeface.errors import EdgefaceError
from edgeface.liveness.minifasnet import REAL_CLASS, MiniFASNet
from edgeface.liveness.screen import FACE_INPUTS, FEATURES, FRAME_INPUTS, CuePart, ScreenCue, columns, cue_inputs
from edgeface.vision.detect import Detector
from edgeface.vision.images import load_image, photos_under
from edgeface.vision.pick import primary_face

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

NEWTON_STEPS = 15


@dataclass(frozen=True)
class PartSpec:
    """How one part of the cue is fitted: on which inputs, from which capture kinds, how hard."""

    name: str
    features: tuple[str, ...]
    captures: tuple[str, ...]
    ridge: float
    """L2 penalty on the standardised weights: strong, because there are about twenty sources to learn from."""
    offset: float
    """Added to the part's log-odds: positive, it vetoes only faces it is sure of."""


PARTS = (
    PartSpec("face", FACE_INPUTS, ("frame", "crop", "video"), ridge=30.0, offset=1.0),
    PartSpec("frame", FRAME_INPUTS, ("frame",), ridge=30.0, offset=-1.0),
)
"""The shipped cue's parts (ridges, offsets and the frame part's inputs and rows were chosen
leave-one-source-out, see docs/liveness.md): the face part learns from every capture kind; the frame part,
which weighs a screen's edge in the whole frame, only from whole webcam frames, the only kind that shows one."""


@dataclass(frozen=True)
class PadPhoto:
    path: Path
    species: str | None
    """None: bona fide."""
    capture: str
    source: str
    subject: str


@dataclass(frozen=True)
class Extracted:
    """Every photo's cue inputs (NaN rows: no face) and MiniFASNet's own score, and the cost per face."""

    photos: tuple[PadPhoto, ...]
    inputs: FloatArray
    networks: FloatArray
    ms_per_face: float | None

    @property
    def found(self) -> npt.NDArray[np.bool_]:
        return np.asarray(~np.isnan(self.networks))

    @property
    def live(self) -> npt.NDArray[np.bool_]:
        return np.array([p.species is None for p in self.photos])


def pad_photos(folders: Sequence[Path], manifest: Manifest) -> list[PadPhoto]:
    """Every photo under ``folders`` that the manifest knows (others are skipped, with a log line)."""
    out: list[PadPhoto] = []
    for folder in folders:
        for path in photos_under(folder):
            prov = manifest.find(path)
            if prov is None:
                log.info("%s: not in %s; left out", path, manifest.path)
                continue
            out.append(PadPhoto(path, prov.species, prov.capture, prov.source, prov.subject))
    return out


def extract(
    detector: Detector,
    networks: MiniFASNet,
    photos: Sequence[PadPhoto],
    progress: Callable[[Iterable[PadPhoto]], Iterable[PadPhoto]] = lambda it: it,
) -> Extracted:
    """Detect the primary face of each photo and compute the cue's inputs for it (the slow part, done once)."""
    inputs = np.full((len(photos), len(FEATURES)), np.nan)
    scores = np.full(len(photos), np.nan)
    timings: list[float] = []
    for i, photo in enumerate(progress(photos)):
        try:
            image = load_image(photo.path)
        except EdgefaceError as exc:
            log.warning("%s", exc)
            continue
        face = primary_face(detector.detect(image), image.shape)
        if face is None:
            log.info("%s: no face found; not a presentation", photo.path)
            continue
        start = time.perf_counter()
        probabilities = networks.model_probabilities(image, [face])
        inputs[i] = cue_inputs(probabilities, image, [face])[0]
        timings.append((time.perf_counter() - start) * 1000.0)
        scores[i] = float(probabilities[:, 0, REAL_CLASS].min())
    return Extracted(tuple(photos), inputs, scores, float(np.median(timings)) if timings else None)


def group_weights(sources: Sequence[str], live: npt.NDArray[np.bool_]) -> FloatArray:
    """Each (source, bona fide or attack) group weighs the same; the weights average 1."""
    keys = [f"{s}\0{int(v)}" for s, v in zip(sources, live, strict=True)]
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    weights = 1.0 / counts[inverse]
    return np.asarray(weights / weights.mean(), np.float64)


def fit(inputs: FloatArray, live: npt.NDArray[np.bool_], weights: FloatArray, spec: PartSpec) -> CuePart:
    """Weighted L2 logistic regression, live = 1, on the columns ``spec`` names."""
    x = inputs[:, columns(spec.features)]
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-6
    z = np.c_[(x - mean) / scale, np.ones(len(x))]
    target = live.astype(np.float64)
    penalty = spec.ridge * np.eye(z.shape[1])
    penalty[-1, -1] = 0.0  # the intercept is not shrunk
    beta = np.zeros(z.shape[1])
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ beta, -60.0, 60.0)))
        gradient = z.T @ (weights * (p - target)) + penalty @ beta
        hessian = (z * (weights * p * (1.0 - p))[:, None]).T @ z + penalty
        beta -= np.linalg.solve(hessian, gradient)
    return CuePart(spec.name, spec.features, mean, scale, beta[:-1], float(beta[-1]), spec.offset)


def training_rows(data: Extracted, captures: Sequence[str]) -> npt.NDArray[np.bool_]:
    """Photos a part learns from: a face found, bona fide or a replay, of the given capture kinds."""
    kinds = np.array([p.capture in captures and p.species != "print" for p in data.photos])
    return np.asarray(data.found & kinds)


def fit_all(data: Extracted, parts: Sequence[PartSpec] = PARTS, without: str | None = None) -> ScreenCue:
    """The cue fitted on every source (or every source but ``without``)."""
    sources = np.array([p.source for p in data.photos])
    fitted = []
    for spec in parts:
        index = np.flatnonzero(training_rows(data, spec.captures) & (sources != without))
        weights = group_weights(list(sources[index]), data.live[index])
        fitted.append(fit(data.inputs[index], data.live[index], weights, spec))
    return ScreenCue(tuple(fitted))


def fused(data: Extracted, cue_probability: FloatArray) -> FloatArray:
    """The shipped fusion: the lower of MiniFASNet's score and the cue's probability."""
    return np.asarray(np.minimum(data.networks, cue_probability), np.float64)


def leave_one_source_out(data: Extracted, parts: Sequence[PartSpec] = PARTS) -> FloatArray:
    """Each photo's fused score from a cue fitted without its source (NaN where no face was found)."""
    sources = np.array([p.source for p in data.photos])
    out = np.full(len(data.photos), np.nan)
    for source in sorted(set(sources[data.found])):
        held = data.found & (sources == source)
        out[held] = fit_all(data, parts, without=source).probability(data.inputs[held])
    return fused(data, out)


def save_extracted(data: Extracted, path: Path) -> None:
    """Keep the slow part (detection, networks, features) for the next run: plain arrays, no pickle."""
    photos = data.photos
    np.savez(
        path,
        path=np.array([str(p.path) for p in photos]),
        species=np.array(["" if p.species is None else p.species for p in photos]),
        capture=np.array([p.capture for p in photos]),
        source=np.array([p.source for p in photos]),
        subject=np.array([p.subject for p in photos]),
        inputs=data.inputs,
        networks=data.networks,
        ms_per_face=np.float64(np.nan if data.ms_per_face is None else data.ms_per_face),
    )


def load_extracted(path: Path) -> Extracted:
    with np.load(path, allow_pickle=False) as saved:
        photos = tuple(
            PadPhoto(Path(str(p)), str(s) or None, str(c), str(so), str(su))
            for p, s, c, so, su in zip(
                saved["path"], saved["species"], saved["capture"], saved["source"], saved["subject"], strict=True
            )
        )
        ms = float(saved["ms_per_face"])
        return Extracted(
            photos, np.asarray(saved["inputs"]), np.asarray(saved["networks"]), None if np.isnan(ms) else ms
        )
