"""``edgeface.Recognizer``: a door's whole pipeline, from its config, inside another application.

    with edgeface.Recognizer("/etc/edgeface/edgeface.yaml") as rec:
        for face in rec.process(frame):     # one call per camera frame, in order
            ...

The detector, embedder, quality gates, threshold, liveness check and people are the ones the door's
config names (its people store, read as the daemon reads it), and the frame goes through the door's
:class:`~edgeface.vision.pipeline.FramePipeline`: faces are tracked across the frames of one stream.
What to do with a face — open a door, count evidence, log — is the application's.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from types import TracebackType

from edgeface.config import Config, load_config
from edgeface.library.results import Recognition
from edgeface.liveness.stage import LivenessStage
from edgeface.storage.people import Store
from edgeface.values import Frame, Image
from edgeface.vision.pipeline import FramePipeline
from edgeface.vision.recognize import Recognizer as VisionRecognizer

log = logging.getLogger(__name__)


class Recognizer:
    """The door's pipeline on the frames an application gives it; a context manager (:meth:`close`)."""

    def __init__(self, config: Config | str | os.PathLike[str] | None = None, *, live: bool = True) -> None:
        """
        Args:
            config: a :class:`~edgeface.config.Config`, a YAML file, or None for the active config
                (``$EDGEFACE_CONFIG``, else ``/etc/edgeface/edgeface.yaml``, else the defaults).
            live: frames come from a camera and are detected at ``detector.live_max_side``, as at the door;
                False for photos, detected at ``detector.max_side``.
        """
        cfg = config if isinstance(config, Config) else load_config(None if config is None else Path(config))
        self.config = cfg
        self._recognizer = VisionRecognizer.from_config(cfg, live=live)
        self._liveness: LivenessStage | None = None
        try:
            if cfg.liveness.enabled:
                self._liveness = LivenessStage.from_config(cfg)
            self._pipeline = FramePipeline(self._recognizer, liveness=self._liveness)
            self._frames = 0
            self.reload_people()
        except Exception:
            self.close()
            raise

    def reload_people(self) -> None:
        """Read the people store again (after an enrolment or a removal)."""
        with Store(self.config.store_path, keep_images=self.config.store.keep_images) as store:
            self._recognizer.gallery = store.gallery_for(self._recognizer.embedder)
        self._pipeline.forget_identities()
        log.info("%d people from %s", len(self._recognizer.gallery), self.config.store_path)

    @property
    def people(self) -> tuple[str, ...]:
        return self._recognizer.gallery.names

    @property
    def threshold(self) -> float:
        """The cosine similarity a face must reach to be named, for the people enrolled now."""
        return self._recognizer.threshold

    def process(self, frame: Image, ts: float | None = None) -> list[Recognition]:
        """Every face in the next frame of the stream, in the detector's order; ``ts`` its capture time."""
        self._frames += 1
        outcomes = self._pipeline.process(Frame(frame, time.time() if ts is None else ts, self._frames))
        return [Recognition.from_outcome(o) for o in outcomes]

    def close(self) -> None:
        self._recognizer.close()
        if self._liveness is not None:
            self._liveness.close()

    def __enter__(self) -> Recognizer:
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.close()
