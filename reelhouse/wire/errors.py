"""The one exception every refusal raises, anywhere below the routers: it carries what the error envelope shows
(`{"success": false, "error": {code, message, description[, fields]}}`). `reelhouse.api.errors` renders it."""

from __future__ import annotations

import uuid


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        description: str | None = None,
        *,
        fields: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.description = description
        self.fields = fields
        self.headers = headers


def not_found(what: str = "Media") -> ApiError:
    return ApiError(404, f"{what} not found", f"The requested {what.lower()} does not exist in this workspace.")


def invalid_field(field: str, message: str = "is invalid") -> ApiError:
    return ApiError(422, "payload validation failed", fields=[{"field": field, "message": message}])


def canonical_uuid(value: str) -> str | None:
    """The id in the lower-case form reelhouse issues, for one written in either case (FastPix ids are
    case-insensitive UUIDs); None when `value` is not a UUID in the 36-character form."""
    return str(uuid.UUID(value)) if is_uuid(value) else None


def is_uuid(value: str) -> bool:
    """The canonical 36-character form ids are issued in; anything else names no object."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36
