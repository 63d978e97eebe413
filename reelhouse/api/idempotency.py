"""`Idempotency-Key` on create requests (`POST /on-demand`, `POST /on-demand/upload`).

A client that is not sure its create arrived (a timeout, a dropped connection) sends it again with the same
key: within 24 hours the same key and body get the first response back, marked `Idempotent-Replayed: true`,
instead of a second media or upload. The same key with a different body is refused with 422. The key is
stored in the create's own transaction, so either both the object and its key exist or neither does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reelhouse.api.deps import WorkspaceDep
from reelhouse.db.models import IdempotencyKey, utcnow
from reelhouse.runtime import Runtime
from reelhouse.wire.errors import ApiError, invalid_field

REPLAY_WINDOW = timedelta(hours=24)
REPLAYED_HEADER = "Idempotent-Replayed"


def _wire_json(model: BaseModel) -> dict:
    """What a WireRoute sends for `model`: aliases, None fields left out."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


@dataclass(frozen=True)
class Idempotency:
    key: str | None
    workspace_id: str
    route: str

    def _fingerprint(self, body: BaseModel) -> str:
        canonical = json.dumps([self.route, _wire_json(body)], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def replay(self, rt: Runtime, body: BaseModel) -> JSONResponse | None:
        """The first response to this key and body, or None when the key is new (or absent)."""
        if self.key is None:
            return None
        with rt.db.read() as session:
            row = session.scalar(select(IdempotencyKey).where(
                IdempotencyKey.workspace_id == self.workspace_id, IdempotencyKey.key == self.key,
                IdempotencyKey.created_at >= utcnow() - REPLAY_WINDOW))
            if row is None:
                return None
            if row.fingerprint != self._fingerprint(body):
                raise ApiError(422, "Idempotency-Key reused with a different request",
                               "This key was sent with another request within the last 24 hours; use a new key "
                               "for a new request.")
            return JSONResponse(row.response, status_code=row.status_code, headers={REPLAYED_HEADER: "true"})

    def remember(self, session: Session, body: BaseModel, status_code: int, response: BaseModel) -> None:
        """Stores the response in the create's transaction; a concurrent request with the same key loses."""
        if self.key is None:
            return
        session.execute(delete(IdempotencyKey).where(  # an expired use of this key frees it for this request
            IdempotencyKey.workspace_id == self.workspace_id, IdempotencyKey.key == self.key,
            IdempotencyKey.created_at < utcnow() - REPLAY_WINDOW))
        session.add(IdempotencyKey(workspace_id=self.workspace_id, key=self.key, fingerprint=self._fingerprint(body),
                                   status_code=status_code, response=_wire_json(response)))
        try:
            session.flush()
        except IntegrityError:
            raise ApiError(409, "Idempotency-Key in use",
                           "Another request with this key was being processed at the same time; send it again "
                           "to get its response.") from None


def sweep_expired_keys(rt: Runtime) -> int:
    """Deletes the keys older than the replay window, which nothing will replay again; a chore of the sweeper in
    `serve`, so a create never pays for the whole table. Returns how many it deleted."""
    with rt.db.write() as session:
        return session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - REPLAY_WINDOW)).rowcount


async def idempotency(
    request: Request, workspace: WorkspaceDep,
    key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Idempotency:
    if key is not None and not 1 <= len(key) <= 255:
        raise invalid_field("Idempotency-Key", "must be 1 to 255 characters")
    return Idempotency(key, workspace, f"{request.method} {request.url.path}")


IdempotencyDep = Annotated[Idempotency, Depends(idempotency)]
