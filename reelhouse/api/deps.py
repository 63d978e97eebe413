"""Request dependencies: the process runtime and the caller's workspace.

FastAPI runs a plain `def` dependency in a worker thread; those that do no I/O are `async def` so they run
on the event loop instead of costing a thread hop each on every request. The credentials check is `async def` too
and goes to a thread only when it has to read the database.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.orm.interfaces import ORMOption

from reelhouse.api.throttle import FailureThrottle
from reelhouse.runtime import Runtime
from reelhouse.tokens import Credentials
from reelhouse.users import session_for
from reelhouse.wire.errors import ApiError, canonical_uuid, invalid_field
from reelhouse.wire.schemas import OrderBy, Pagination

_basic = HTTPBasic(auto_error=False, description="Access token id as user name, secret key as password")

SESSION_COOKIE = "reelhouse_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


async def workspace_id(
    request: Request, credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)]
) -> str:
    """The workspace of a valid, unrevoked access token; 401 in the envelope otherwise. A token this process verified
    recently costs no query (`Credentials`), so it is checked on the event loop; anything else goes to a thread."""
    challenge = {"WWW-Authenticate": 'Basic realm="reelhouse"'}
    if credentials is None and request.cookies.get(SESSION_COOKIE):
        return await run_in_threadpool(_session_workspace, request)
    if credentials is None:
        raise ApiError(401, "Unauthorized", "Send an access token id and secret key with HTTP Basic auth.",
                       headers=challenge)
    throttle: FailureThrottle = request.app.state.auth_failures
    keys = (f"address:{request.client.host if request.client else ''}", f"token:{credentials.username[:64]}")
    wait = throttle.retry_after(*keys)
    if wait is not None:
        raise ApiError(429, "Too many failed authentications",
                       f"Too many wrong credentials from this address or for this token; retry in {wait} s.",
                       headers={"Retry-After": str(wait)})
    verified: Credentials = request.app.state.runtime.credentials
    workspace = verified.cached(credentials.username, credentials.password)
    if workspace is None:
        workspace = await run_in_threadpool(verified.verify, credentials.username, credentials.password)
    if workspace is None:
        throttle.failed(*keys)
        raise ApiError(401, "Unauthorized", "The access token is unknown, revoked or its secret is wrong.",
                       headers=challenge)
    return workspace


def _session_workspace(request: Request) -> str:
    """The dashboard's way in: a signed-in person's session cookie, plus its CSRF token in a header on anything
    that changes state (a cross-site form can send the cookie, never the header)."""
    with request.app.state.runtime.db.read() as session:
        found = session_for(session, request.cookies[SESSION_COOKIE])
        if found is None:
            raise ApiError(401, "Unauthorized", "The session has expired or was signed out; sign in again.")
        if request.method not in SAFE_METHODS and not hmac.compare_digest(
                request.headers.get(CSRF_HEADER, "").encode(), found.csrf_token.encode()):
            raise ApiError(403, "CSRF token missing or wrong", f"Send the page's CSRF token in {CSRF_HEADER}.")
        return found.user.workspace_id


Authenticated = Annotated[str, Depends(workspace_id)]


def uuid_param(name: str, where: Callable[..., Any] = Path) -> Callable[..., Coroutine[Any, Any, str]]:
    """A dependency for the UUID named `name` in the path (or the query), lower-cased as ids are issued, so an
    upper-case copy finds the same object; 422 naming it when malformed. Checked after the credentials (cached per
    request), so a caller without them only ever learns 401."""

    # Declared as a UUID in the schema, so schema-driven clients and fuzzers send ids that reach the route.
    async def checked(_: Authenticated, value: str = where(alias=name, max_length=255,
                                                           json_schema_extra={"format": "uuid"})) -> str:
        canonical = canonical_uuid(value)
        if canonical is None:
            raise invalid_field(name)
        return canonical

    return checked


T = TypeVar("T")


async def near_data(rt: Runtime, work: Callable[[], T]) -> T:
    """`work()`, which reads the database, for the API's busiest reads: on the event loop where the database is SQLite
    in this process, in a worker thread where it is a server to wait for. Handing a SQLite read to a thread cost more
    than the read: the thread pool's round trip, and the read's data crossing to the other core and back."""
    return work() if rt.db.in_process else await run_in_threadpool(work)


MAX_PAGE = 2**31 - 1  # far past any real listing; keeps the SQL OFFSET inside a 64-bit integer


@dataclass(frozen=True)
class Page:
    """`page` is FastPix's 1-based `offset`, `limit` the page size."""

    limit: int
    page: int
    order_by: OrderBy

    def select(
        self, session: Session, model: type[T], *where: ColumnElement[bool], by: InstrumentedAttribute[Any],
        options: Sequence[ORMOption] = (),
    ) -> tuple[Sequence[T], Pagination]:
        """This page of the `model` rows matching `where`, ordered by `by` as the client asked (then by id, so
        pages never overlap or skip a row), and FastPix's pagination object: offsetCount is the number of pages.
        Both keys go the same way, so an index on (workspace, `by`, id) walked either way yields the page: a tie-break
        the other way made SQLite sort the whole workspace for every page."""
        total = session.scalar(select(func.count()).select_from(model).where(*where)) or 0
        ident: InstrumentedAttribute[Any] = model.id  # type: ignore[attr-defined]
        order = (by.desc(), ident.desc()) if self.order_by == "desc" else (by.asc(), ident.asc())
        rows = session.scalars(
            select(model).where(*where).order_by(*order).offset(self.start).limit(self.limit).options(*options)
        ).all()
        return rows, self.pagination(total)

    @property
    def start(self) -> int:
        """The number of rows before this page."""
        return (self.page - 1) * self.limit

    def pagination(self, total: int) -> Pagination:
        return Pagination(total_records=total, current_offset=self.page, offset_count=math.ceil(total / self.limit))


async def page(
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    offset: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    order_by: Annotated[OrderBy, Query(alias="orderBy")] = "desc",
) -> Page:
    return Page(limit, offset, order_by)


RuntimeDep = Annotated[Runtime, Depends(runtime)]
WorkspaceDep = Annotated[str, Depends(workspace_id)]
MediaIdDep = Annotated[str, Depends(uuid_param("mediaId"))]
UploadIdDep = Annotated[str, Depends(uuid_param("uploadId"))]
TrackIdDep = Annotated[str, Depends(uuid_param("trackId"))]
PageDep = Annotated[Page, Depends(page)]
