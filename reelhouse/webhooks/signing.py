"""Signing deliveries two ways, with one key per secret.

A secret is `whsec_<base64 of 32 random bytes>`, the Standard Webhooks format, so the `standardwebhooks`
libraries take it as is. FastPix receivers are configured with the base64 part: `FastPix-Signature` is
keyed with exactly those bytes, as spec section 9 says, so they verify unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def _sign(secret: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(_key(secret), message, hashlib.sha256).digest()).decode()


def fastpix_signature(secret: str, body: bytes) -> str:
    """`FastPix-Signature`: base64(HMAC-SHA256(key=base64decode(secret), msg=raw body))."""
    return _sign(secret, body)


def standard_signature(signing_secrets: Iterable[str], message_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature`: `v1,<sig>` over `id.timestamp.body` per secret, space-separated (rotation)."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join(f"v1,{_sign(secret, signed)}" for secret in signing_secrets)


def headers(current: str, previous: str | None, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Every signature header of one delivery attempt; `previous` also signs while its grace period lasts."""
    in_use = [current] if previous is None else [current, previous]
    return {
        "FastPix-Signature": fastpix_signature(current, body),
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(in_use, message_id, timestamp, body),
    }
