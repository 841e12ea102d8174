"""One face, one name, for the fleet's records: a record is not merged over a door's own enrolment.

At the admin, ``fleet push`` runs the same check over the records it is about to publish (everyone
there is enrolled locally) and pushes nothing while one fails, unless ``--allow-similar``.

A door takes the site's records into its store (:class:`edgeface.mqtt.fleetsync.Intake`). A record
whose face passes for someone *this door enrolled itself* under another name (``origin`` local) would
give that face two names, and the audit log could name the wrong one: such a record is refused and
logged, and the operator resolves it (remove or rename one of the two, or enrol the face under the
fleet's name). Records are not checked against each other: they come from the admin, whose own
enrolment already checked them (``--allow-similar`` there is an audited decision for the site).

The check is enrolment's (:meth:`edgeface.vision.vetting.Vetter.new_name`) with the door's thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edgeface.config import Config
from edgeface.errors import StaleTemplatesError
from edgeface.storage.people import ModelId, Store
from edgeface.storage.records import PersonRecord
from edgeface.vision.threshold import ThresholdPolicy
from edgeface.vision.vetting import Rules, Vetter, conflicts

__all__ = ["RecordConflicts"]


class RecordConflicts:
    """Which of a batch of records would give a face this door enrolled a second name: name → why."""

    def __init__(self, store: Store, model: ModelId, dim: int, policy: ThresholdPolicy, centroids: bool) -> None:
        self.store, self.model, self.dim = store, model, dim
        self.policy, self.centroids = policy, centroids

    @classmethod
    def from_config(cls, cfg: Config, store: Store, model: ModelId) -> RecordConflicts:
        profile = cfg.profile
        return cls(store, model, profile.output_dim, ThresholdPolicy.from_config(cfg), cfg.match.score == "centroid")

    def __call__(self, records: Sequence[PersonRecord]) -> dict[str, str]:
        incoming = [
            (r.name, np.stack([t.vector for t in r.templates if t.model_sha256 == self.model[1]]))
            for r in records
            if not r.deleted and any(t.model_sha256 == self.model[1] for t in r.templates)
        ]
        if not incoming:
            return {}
        try:
            gallery = self.store.gallery(self.model, self.dim, origin="local")
        except StaleTemplatesError:
            return {}  # nothing enrolled here with this model: nothing to conflict with
        whole = self.store.gallery(self.model, self.dim) if len(gallery) else gallery
        rules = Rules.from_policy(self.policy, whole.template_count)
        vetter = Vetter(gallery, gallery.centroids() if self.centroids else gallery, rules)
        found = conflicts(vetter, incoming)
        return {name: f"one face, one name: {verdict.problem}" for name, verdict in found.items()}
