"""A cap on request bodies, enforced before a route reads one and before anyone is authenticated.

Without it an unauthenticated client could make the server hold a body of any size in memory just to answer 401.
A declared `Content-Length` over the cap is refused at once, unread; a body without one (chunked) is counted as it
streams and refused the moment it passes the cap. Upload URLs stream to disk and enforce `max_source_bytes`
themselves (`reelhouse.uploads.protocol`), so they are left to it.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelhouse.api.errors import error_response
from reelhouse.wire.errors import ApiError

UPLOAD_PATHS = "/upload/"


def install(app: FastAPI, max_bytes: int) -> None:
    async def too_large(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BodyTooLarge)
        return error_response(exc.as_api_error())

    app.add_exception_handler(BodyTooLarge, too_large)
    app.add_middleware(BodyLimit, max_bytes=max_bytes)


class BodyTooLarge(HTTPException):
    """Raised by the counting `receive`; FastAPI passes HTTP exceptions from body parsing on to its handler."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, "Payload too large")
        self.limit = limit

    def as_api_error(self) -> ApiError:
        return ApiError(413, "Payload too large", f"Request bodies may have at most {self.limit} bytes.",
                        headers={"Connection": "close"})


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UPLOAD_PATHS):
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await error_response(BodyTooLarge(limit).as_api_error())(scope, receive, send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge as exc:  # read outside a route's body parsing, e.g. by a middleware
            if started:
                raise
            await error_response(exc.as_api_error())(scope, receive, send)
