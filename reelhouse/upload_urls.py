"""Signed upload URLs: `/upload/<uploadId>?expires=<unix>&signature=<HMAC>`.

The URL is the credential: whoever holds it may send the file until it expires, and changing any
part of it (id or expiry) breaks the signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError

from reelhouse.db.engine import Database
from reelhouse.db.models import ServerSecret

_EXPIRES = re.compile(r"[0-9]{1,12}")  # ASCII digits only, short enough for int() and datetime


class SignatureError(Exception):
    pass


def load_or_create_secret(db: Database, name: str) -> bytes:
    """A server-wide random key kept in the database, so every API node signs and verifies alike."""
    for _ in range(2):
        with db.read() as session:
            row = session.get(ServerSecret, name)
            if row is not None:
                return base64.b64decode(row.value)
        try:
            with db.write() as session:
                session.add(ServerSecret(name=name, value=base64.b64encode(secrets.token_bytes(32)).decode()))
        except IntegrityError:  # another process created it first
            continue
    raise RuntimeError(f"could not create server secret {name}")


def _unix(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp())


class UrlSigner:
    def __init__(self, key: bytes, base_url: str) -> None:
        self._key = key
        self._base_url = base_url

    def _signature(self, upload_id: str, expires: int) -> str:
        digest = hmac.new(self._key, f"{upload_id}.{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def url(self, upload_id: str, expires_at: datetime) -> str:
        expires = _unix(expires_at)
        return f"{self._base_url}/upload/{upload_id}?expires={expires}&signature={self._signature(upload_id, expires)}"

    def verify(self, upload_id: str, expires: str | None, signature: str | None, *, now: datetime) -> None:
        """Raises SignatureError('forged'|'expired') — forged first, so an attacker learns nothing about expiry."""
        if not expires or not signature or not _EXPIRES.fullmatch(expires):
            raise SignatureError("forged")
        if not hmac.compare_digest(self._signature(upload_id, int(expires)), signature):
            raise SignatureError("forged")
        if int(expires) <= _unix(now):
            raise SignatureError("expired")
