"""Playback URLs and signed playback tokens (RS256 JWTs that open private playback ids).

Signing needs an RSA implementation: `pip install 'reelhouse-sdk[signing]'` (PyJWT with cryptography).
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any
from urllib.parse import quote, urlencode

FASTPIX_STREAM = "https://stream.fastpix.com"
FASTPIX_IMAGES = "https://images.fastpix.com"


def _pem(private_key: str | bytes) -> bytes:
    """A PEM as given, or the base64 of a PEM as `signing_keys.create` returns it."""
    raw = private_key.encode() if isinstance(private_key, str) else private_key
    if b"-----BEGIN" in raw:
        return raw
    try:
        decoded = base64.b64decode(raw, validate=True)
    except binascii.Error:
        decoded = b""
    if b"-----BEGIN" not in decoded:
        raise ValueError("private_key must be a PEM, or the base64 of one as signing_keys.create returns it")
    return decoded


def sign_token(playback_id: str, key_id: str, private_key: str | bytes, *, expires_in: int = 3600,
               issuer: str | None = None, claims: dict[str, Any] | None = None) -> str:
    """A token that opens the private `playback_id` for `expires_in` seconds: append it as `?token=`."""
    try:
        import jwt
    except ImportError as exc:  # the optional extra
        raise ImportError("sign_token needs PyJWT: pip install 'reelhouse-sdk[signing]'") from exc
    if not isinstance(playback_id, str) or not isinstance(key_id, str) or not playback_id or not key_id:
        raise TypeError("playback_id and key_id must be non-empty strings")
    if not isinstance(expires_in, int) or expires_in <= 0:
        raise ValueError("expires_in must be a positive number of seconds")
    now = int(time.time())
    payload = {"kid": key_id, "aud": f"media:{playback_id}", "iat": now, "exp": now + expires_in, **(claims or {})}
    if issuer:
        payload["iss"] = issuer
    return jwt.encode(payload, _pem(private_key), algorithm="RS256", headers={"kid": key_id})


def _with_query(url: str, query: dict[str, Any]) -> str:
    present = {k: v for k, v in query.items() if v is not None}
    return f"{url}?{urlencode(present)}" if present else url


def stream_url(playback_id: str, *, base: str = FASTPIX_STREAM, token: str | None = None) -> str:
    """`<base>/<playbackId>.m3u8`; reelhouse serves it at `http://host:port/stream`."""
    return _with_query(f"{base.rstrip('/')}/{quote(playback_id, safe='')}.m3u8", {"token": token})


def thumbnail_url(playback_id: str, *, base: str = FASTPIX_IMAGES, fmt: str = "jpg", token: str | None = None,
                  time: float | None = None, width: int | None = None, height: int | None = None,
                  fit_mode: str | None = None) -> str:
    """`<base>/<playbackId>/thumbnail.<fmt>` at `time` seconds (the middle frame when left out)."""
    if fmt not in ("jpg", "png", "webp"):
        raise ValueError("fmt must be jpg, png or webp")
    url = f"{base.rstrip('/')}/{quote(playback_id, safe='')}/thumbnail.{fmt}"
    return _with_query(url, {"time": time, "width": width, "height": height, "fit_mode": fit_mode, "token": token})
