"""Verifying webhook deliveries: `FastPix-Signature` (FastPix's header) and Standard Webhooks headers.

`webhook-signature` signs the message id and a timestamp too, so it is preferred when present: a delivery
older than `tolerance` seconds (or from the future) is refused, which stops replays. `FastPix-Signature`
signs only the body; receivers should then deduplicate on the event's `id`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from reelhouse_sdk.errors import WebhookVerificationError

DEFAULT_TOLERANCE = 300


def _key(secret: str) -> bytes:
    """`whsec_<base64>` (reelhouse, Standard Webhooks) or the bare base64 (FastPix's dashboard)."""
    if not isinstance(secret, str) or not secret:
        raise TypeError("secret must be the endpoint's signing secret, a string")
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        raise ValueError("secret is not a webhook signing secret (whsec_… or base64)") from None


def _sign(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def verify(payload: bytes | str, headers: Mapping[str, str], secret: str, *,
           tolerance: int = DEFAULT_TOLERANCE) -> dict[str, Any]:
    """The delivered event (parsed JSON) if one of its signatures is valid for `secret`; raises
    WebhookVerificationError otherwise. Pass the raw body, exactly as received."""
    body = payload.encode() if isinstance(payload, str) else payload
    if not isinstance(body, bytes):
        raise TypeError("payload must be the raw request body, bytes or str")
    lowered = {k.lower(): v for k, v in headers.items()}
    key = _key(secret)
    if "webhook-signature" in lowered:
        _verify_standard(body, lowered, key, tolerance)
    elif "fastpix-signature" in lowered:
        if not hmac.compare_digest(_sign(key, body).encode(), lowered["fastpix-signature"].strip().encode()):
            raise WebhookVerificationError("FastPix-Signature does not match the body")
    else:
        raise WebhookVerificationError("no FastPix-Signature or webhook-signature header")
    try:
        return json.loads(body)
    except ValueError:
        raise WebhookVerificationError("the signed body is not JSON") from None


def _verify_standard(body: bytes, headers: Mapping[str, str], key: bytes, tolerance: int) -> None:
    message_id, stamp = headers.get("webhook-id"), headers.get("webhook-timestamp", "")
    if not message_id or not stamp.isdigit():
        raise WebhookVerificationError("webhook-signature needs webhook-id and webhook-timestamp headers")
    if abs(time.time() - int(stamp)) > tolerance:
        raise WebhookVerificationError(f"webhook-timestamp is more than {tolerance} s away from now")
    expected = _sign(key, f"{message_id}.{stamp}.".encode() + body).encode()
    for entry in headers["webhook-signature"].split():
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(expected, signature.encode()):
            return
    raise WebhookVerificationError("no webhook-signature matches the body")
