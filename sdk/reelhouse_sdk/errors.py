"""Typed errors. Every HTTP error response raises a `FastpixDefaultError` (the seed's catch-all for 4XX/5XX),
or the subclass for what the server distinguishes; network failures raise `ConnectionError`/`TimeoutError`.
All derive from `ReelhouseError`, so `except errors.ReelhouseError` catches everything this SDK raises."""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass
from typing import Any

import httpx

EXCERPT = 300


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class ReelhouseError(Exception):
    """Base of every SDK error. `message` reads like the server's; `status_code` and `raw_response` are None
    when no response arrived."""

    def __init__(
        self, message: str, *, status_code: int | None = None, raw_response: httpx.Response | None = None,
        code: int | None = None, description: str | None = None, fields: list[FieldError] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.raw_response = raw_response
        self.code = code
        self.description = description
        self.fields = fields or []

    @property
    def body(self) -> str:
        return self.raw_response.text if self.raw_response is not None else ""

    @property
    def headers(self) -> httpx.Headers:
        return self.raw_response.headers if self.raw_response is not None else httpx.Headers()

    def __str__(self) -> str:
        text = self.message
        if self.description and self.description != self.message:
            text += f": {self.description}"
        if self.fields:
            text += " (" + "; ".join(f"{f.field}: {f.message}" for f in self.fields) + ")"
        return text


class FastpixDefaultError(ReelhouseError):
    """The server answered 4XX or 5XX."""


class BadRequestError(FastpixDefaultError):
    """400: the request is well-formed but cannot be done (e.g. an upload already completed)."""


class TrackDuplicateRequestError(BadRequestError):
    """400 from add/update track or generate subtitles: such a track exists already."""


class DuplicateMp4SupportError(BadRequestError):
    """400 from update_mp4_support: that value is set already."""


class InvalidPermissionError(FastpixDefaultError):
    """401: the access token is missing, unknown, revoked or its secret is wrong."""


class ForbiddenError(FastpixDefaultError):
    """403: the token may not do this."""


class NotFoundError(FastpixDefaultError):
    """404: no such object in this workspace."""


class MediaNotFoundError(NotFoundError):
    """404 for a media (or something of it)."""


class ConflictError(FastpixDefaultError):
    """409: the request collides with the current state, e.g. an Idempotency-Key still in use."""


class ValidationError(FastpixDefaultError):
    """422: the payload failed validation; `fields` names each offending field."""


class RateLimitError(FastpixDefaultError):
    """429: too many requests (retried by default, honouring Retry-After)."""


class ServerError(FastpixDefaultError):
    """5XX."""


class UnexpectedResponseError(ReelhouseError):
    """A success status whose body is not the JSON this operation answers with (a proxy's HTML page, garbage)."""


class ConnectionError(ReelhouseError, builtins.ConnectionError):
    """No response: the server could not be reached or dropped the connection."""


class TimeoutError(ReelhouseError, builtins.TimeoutError):
    """No response within `timeout_ms`."""


class UploadError(ReelhouseError):
    """A file upload could not be completed (missing or changing file, size mismatch, upload cancelled)."""


class MediaFailedError(ReelhouseError):
    """wait_until_ready: the media ended `Failed`; `media` holds its last state, `message` the reason."""

    def __init__(self, message: str, media: Any) -> None:
        super().__init__(message)
        self.media = media


class WaitTimeoutError(ReelhouseError, builtins.TimeoutError):
    """wait_until_ready: the media was not Ready in time; `media` holds its last state."""

    def __init__(self, message: str, media: Any) -> None:
        super().__init__(message)
        self.media = media


class WebhookVerificationError(ReelhouseError):
    """A webhook delivery's signature is missing, wrong or too old."""


_BY_STATUS: dict[int, type[FastpixDefaultError]] = {
    400: BadRequestError, 401: InvalidPermissionError, 403: ForbiddenError, 404: NotFoundError,
    409: ConflictError, 422: ValidationError, 429: RateLimitError,
}


def excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "…"


def from_response(response: httpx.Response, overrides: dict[int, type[FastpixDefaultError]] | None = None
                  ) -> FastpixDefaultError:
    """The error for a 4XX/5XX response; `overrides` picks an operation's own class for a status (404 ->
    MediaNotFoundError …). A body that is not the error envelope still gives a readable message."""
    status = response.status_code
    cls = (overrides or {}).get(status) or _BY_STATUS.get(status) or (ServerError if status >= 500
                                                                        else FastpixDefaultError)
    try:
        envelope = json.loads(response.content)
        error = envelope["error"]
        message = str(error["message"])
    except (ValueError, KeyError, TypeError):
        kind = response.headers.get("content-type", "no content type")
        return cls(f"HTTP {status} ({kind}): {excerpt(response.text) or 'empty body'}", status_code=status,
                   raw_response=response)
    fields = [FieldError(str(f.get("field", "")), str(f.get("message", ""))) for f in error.get("fields") or []
              if isinstance(f, dict)]
    code = error.get("code")
    return cls(message, status_code=status, raw_response=response, code=int(code) if isinstance(code, int | float) else None,
               description=error.get("description"), fields=fields)
