"""The error envelope every failure uses: `{"success": false, "error": {code, message, description[, fields]}}`.

Clients (the FastPix SDKs) pick their exception class from the status code and read `error.message`,
so every path out of the app — our own errors, validation, unknown routes, crashes — ends here.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelhouse.wire.errors import ApiError

log = logging.getLogger(__name__)


def error_response(error: ApiError) -> JSONResponse:
    body: dict[str, Any] = {"code": error.status, "message": error.message}
    if error.description:
        body["description"] = error.description
    if error.fields:
        body["fields"] = error.fields
    return JSONResponse({"success": False, "error": body}, status_code=error.status, headers=error.headers)


_STATUS_MESSAGES = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Payload too large",
}


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _validation_error(errors: list[dict[str, Any]]) -> ApiError:
    if any(e.get("type") == "json_invalid" for e in errors):
        return ApiError(400, "Invalid JSON body", "The request body is not valid JSON.")
    fields = []
    for e in errors:
        message = e.get("msg", "is invalid")
        # pydantic prefixes custom validator messages with "Value error, "; clients want just the reason.
        message = message.removeprefix("Value error, ")
        fields.append({"field": _field_name(tuple(e.get("loc", ()))), "message": message})
    return ApiError(422, "payload validation failed", fields=fields)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(_validation_error(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else _STATUS_MESSAGES.get(exc.status_code, "Error")
        return error_response(ApiError(exc.status_code, message, headers=getattr(exc, "headers", None)))

    app.add_middleware(CrashBarrier)


class CrashBarrier:
    """Turns an unexpected exception into a 500 envelope and keeps the connection usable.

    Starlette's own catch-all answers too, but re-raises afterwards, so the server drops the
    connection and a client's next pooled request on it fails.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:  # too late for a clean answer
                raise
            crash = ApiError(500, "Internal server error", "The server failed to handle this request.")
            await error_response(crash)(scope, receive, send)
