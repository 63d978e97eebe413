"""Access tokens: HTTP Basic credentials (token id + secret), each bound to one workspace.

Secrets are random 256-bit values, so a plain SHA-256 is a sound way to keep them hashed at rest.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reelhouse.db.engine import Database
from reelhouse.db.models import AccessToken, Workspace, utcnow

DEFAULT_WORKSPACE = "Default"
REVOCATION_CHECK_SECONDS = 1.0  # how long a token revoked by another process may still be accepted here
VERIFIED_TTL_SECONDS = 60.0  # a verified token is read again at least this often, whatever happened to it
MAX_VERIFIED = 10_000  # tokens remembered at once; only valid ones are, so nobody can fill this with made-up ids


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def workspace_named(session: Session, name: str) -> Workspace:
    """The workspace of that name, created on first use."""
    workspace = session.scalar(select(Workspace).where(Workspace.name == name))
    if workspace is None:
        workspace = Workspace(name=name)
        session.add(workspace)
        session.flush()
    return workspace


def create_token(session: Session, *, workspace: str = DEFAULT_WORKSPACE, name: str = "") -> tuple[AccessToken, str]:
    """Returns the new token and its secret; the secret is not stored and cannot be shown again."""
    secret = secrets.token_urlsafe(32)
    token = AccessToken(workspace_id=workspace_named(session, workspace).id, name=name, secret_hash=hash_secret(secret))
    session.add(token)
    session.flush()
    return token, secret


def authenticate(session: Session, token_id: str, secret: str) -> AccessToken | None:
    token = session.get(AccessToken, token_id)
    if token is None or token.revoked_at is not None:
        return None
    return token if hmac.compare_digest(token.secret_hash, hash_secret(secret)) else None


def active_tokens(session: Session) -> list[AccessToken]:
    query = select(AccessToken).where(AccessToken.revoked_at.is_(None)).order_by(AccessToken.created_at)
    return list(session.scalars(query))


def revoke(session: Session, token_id: str) -> bool:
    token = session.get(AccessToken, token_id)
    if token is None or token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    return True


def revoked_count(session: Session) -> int:
    """How many tokens were ever revoked: tokens are never deleted nor un-revoked, so this only grows, and a change
    is the sign that some token stopped being valid."""
    return session.scalar(select(func.count(AccessToken.revoked_at))) or 0


@dataclass(frozen=True)
class _Verified:
    secret_hash: str
    workspace_id: str
    at: float


class Credentials:
    """Access tokens verified against the database, remembered by this process so a request costs no query.

    Revoking is the only change a token ever sees. A token revoked through this process (`forget`) is refused from
    the next request on. For revocations anywhere else (the CLI, another `serve` process or machine) every process
    re-reads `revoked_count` at least `REVOCATION_CHECK_SECONDS` apart, before it accepts anything it remembers, and
    forgets everything it verified when the count changed.
    """

    def __init__(self, db: Database, clock: Callable[[], float] = time.monotonic) -> None:
        self._db, self._clock = db, clock
        self._lock = threading.Lock()
        self._verified: dict[str, _Verified] = {}
        self._revoked: int | None = None  # revoked_count as last read
        self._checked_at = -math.inf  # when it was read: before the query, so the bound holds however long it took
        self._generation = 0  # bumped whenever entries are dropped: a lookup begun before may not store its answer

    def cached(self, token_id: str, secret: str) -> str | None:
        """The token's workspace when it was verified recently, nothing was revoked since and the secret matches;
        None means ask `verify`, which may still find it valid. Costs no query, so it may run on the event loop."""
        now = self._clock()
        known = self._verified.get(token_id)
        if known is None or now - self._checked_at >= REVOCATION_CHECK_SECONDS or now - known.at >= VERIFIED_TTL_SECONDS:
            return None
        return known.workspace_id if hmac.compare_digest(known.secret_hash, hash_secret(secret)) else None

    def verify(self, token_id: str, secret: str) -> str | None:
        """The workspace of a valid, unrevoked token, read from the database (and remembered); None when the token is
        unknown, revoked or its secret is wrong."""
        with self._db.read() as session:
            generation = self._check_revocations(session)
            if (workspace := self.cached(token_id, secret)) is not None:  # the revocation check was all that was due
                return workspace
            read_at = self._clock()
            token = authenticate(session, token_id, secret)
        if token is None:
            return None
        with self._lock:
            if generation == self._generation:  # nothing was forgotten while this token was being read
                if len(self._verified) >= MAX_VERIFIED:
                    self._verified.clear()
                self._verified[token_id] = _Verified(token.secret_hash, token.workspace_id, read_at)
        return token.workspace_id

    def forget(self, token_id: str) -> None:
        """Call once the revocation of `token_id` has committed: this process refuses it from now on."""
        with self._lock:
            self._verified.pop(token_id, None)
            self._generation += 1

    def _check_revocations(self, session: Session) -> int:
        """Re-reads the revoked count when due, before the caller reads its token, so that a revocation committed
        after this read is seen by the next one; returns the generation the caller's answer will belong to."""
        started = self._clock()
        if started - self._checked_at >= REVOCATION_CHECK_SECONDS:
            count = revoked_count(session)
            with self._lock:
                if started > self._checked_at:  # else a check begun later has already landed
                    if self._revoked is not None and count != self._revoked:
                        self._verified.clear()
                        self._generation += 1
                    self._revoked, self._checked_at = count, started
        return self._generation
