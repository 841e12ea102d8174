"""The live page's recent faces: who the door could not name, and, with the token, enrolling them.

``GET /recent.json`` lists the recent unknown visits (:mod:`edgeface.daemon.recent`) to whoever may see
the page (it is loopback-only by default, and it already streams the camera): time, closest enrolled
person, similarity. The crops themselves, and ``POST /enrol`` (``{"name": ..., "ids": [...]}``), need
``Authorization: Bearer <web.token>`` (or ``$EDGEFACE_WEB_TOKEN``): without a token configured the
page offers nothing that writes. A browser never sends that header by itself to another site's page,
so a page elsewhere cannot enrol through a viewer's browser.

An enrolment here is the command line's (:class:`edgeface.ops.enroll.Enrolment`): every check, the
audit log (by ``live page``), its own connections to the store, then the door forgets the visits and
re-reads its people.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path

from edgeface.daemon.recent import RecentFaces
from edgeface.errors import EdgefaceError
from edgeface.ops.enroll import Enrolment, door_candidate
from edgeface.storage.audit import AuditLog
from edgeface.storage.people import Store
from edgeface.vision.images import encode_jpeg
from edgeface.vision.recognize import Recognizer

log = logging.getLogger(__name__)

MAX_BODY = 4096


class RecentPage:
    """What the page's handler asks about recent faces (see the module docstring)."""

    def __init__(
        self,
        recent: RecentFaces,
        token: str | None,
        recognizer: Recognizer,
        store: tuple[Path, bool, float],
        on_enrolled: Callable[[], None],
    ) -> None:
        """``store``: the store's path, ``store.keep_images`` and ``store.audit_retention_days``."""
        self.recent, self._token = recent, token
        self._recognizer, self._store, self._on_enrolled = recognizer, store, on_enrolled

    def authorised(self, header: str | None) -> bool:
        if self._token is None or header is None:
            return False
        return hmac.compare_digest(header.encode(), f"Bearer {self._token}".encode())

    def listing(self, header: str | None) -> dict[str, object]:
        allowed = self.authorised(header)
        faces = []
        for face in self.recent.faces():
            row = face.summary()
            if allowed:
                row["crop"] = "data:image/jpeg;base64," + base64.b64encode(encode_jpeg(face.crop)).decode()
            faces.append(row)
        return {"can_enrol": allowed, "token_configured": self._token is not None, "faces": faces}

    def enrol(self, header: str | None, body: bytes) -> tuple[HTTPStatus, dict[str, object]]:
        if self._token is None:
            return HTTPStatus.FORBIDDEN, {"error": "no web.token is configured: this page offers nothing that writes"}
        if not self.authorised(header):
            return HTTPStatus.UNAUTHORIZED, {"error": "a valid token is needed to enrol"}
        try:
            request = json.loads(body)
            name, ids = request["name"], request["ids"]
            if not isinstance(name, str) or not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
                raise TypeError
            faces = self.recent.take(ids)
        except KeyError as exc:
            return HTTPStatus.BAD_REQUEST, {"error": f"no recent face {exc.args[0]}"}
        except (ValueError, TypeError):
            return HTTPStatus.BAD_REQUEST, {"error": 'expected {"name": "...", "ids": [1, 2]}'}
        path, keep, retention = self._store
        try:
            with Store(path, keep_images=keep) as store, AuditLog(path, retention) as audit:
                enrolment = Enrolment(self._recognizer, store, audit=audit, by="live page")
                candidates = [
                    door_candidate(f.id, str(f.summary()["time"]), f.vector, encode_jpeg(f.crop), f.quality, keep=keep)
                    for f in faces
                ]
                results = enrolment.enrol(name, candidates)
        except EdgefaceError as exc:
            return HTTPStatus.INTERNAL_SERVER_ERROR, {"error": str(exc)}
        enrolled = [f.id for f, r in zip(faces, results, strict=True) if not r.refused]
        if enrolled:
            self.recent.forget(enrolled)
            self._on_enrolled()
            log.info("live page: enrolled %d recent face(s) as %s", len(enrolled), name)
        status = HTTPStatus.OK if enrolled else HTTPStatus.CONFLICT
        return status, {"enrolled": enrolled, "results": [r.to_dict() for r in results]}
