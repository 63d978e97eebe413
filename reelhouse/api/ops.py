"""Operations endpoints and request bookkeeping: `/healthz` (the process answers), `/readyz` (what it depends on
answers), `/metrics` (Prometheus), and a middleware giving every request an id (`X-Request-Id`, taken from the
client or made up, echoed back and written on every log line), its latency by route template, and one access line.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select, text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelhouse import logs
from reelhouse.db.engine import Database
from reelhouse.db.enums import JobKind, JobStatus
from reelhouse.db.models import Job
from reelhouse.metrics import REQUEST_SECONDS, exposition
from reelhouse.runtime import Runtime

router = APIRouter(include_in_schema=False)
access = logging.getLogger("reelhouse.access")

CHECK_SECONDS = 5.0  # a dependency slower than this to answer counts as unreachable
REPORTED = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FAILED)
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """200 when the database, storage and broker (where one is configured) all answer; 503 naming those that do not."""
    checks = dependencies(request.app.state.runtime)
    pool = ThreadPoolExecutor(len(checks))
    futures = {name: pool.submit(check) for name, check in checks.items()}
    results: dict[str, str] = {}
    for name, future in futures.items():
        try:
            future.result(timeout=CHECK_SECONDS)
            results[name] = "ok"
        except FutureTimeout:
            results[name] = f"no answer within {CHECK_SECONDS:g} s"
        except Exception as exc:
            results[name] = f"{type(exc).__name__}: {exc}"
    pool.shutdown(wait=False)
    failing = sorted(name for name, result in results.items() if result != "ok")
    body = {"status": "unavailable" if failing else "ready", "failing": failing, "checks": results}
    return JSONResponse(body, status_code=503 if failing else 200)


def dependencies(rt: Runtime) -> dict[str, Callable[[], object]]:
    def database() -> None:
        with rt.db.read() as session:
            session.execute(text("SELECT 1"))

    checks: dict[str, Callable[[], object]] = {"database": database, "storage": lambda: rt.storage.size("readyz")}
    if rt.dispatcher is not rt.wakeups:
        checks["broker"] = rt.dispatcher.check
    return checks


class JobCounts:
    """`reelhouse_jobs{kind, status}`: jobs queued, running and failed, counted in the database at scrape time."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self.db.read() as session:
            rows = session.execute(
                select(Job.kind, Job.status, func.count()).where(Job.status.in_(REPORTED)).group_by(Job.kind, Job.status)
            ).all()
        counts = {(kind, status): n for kind, status, n in rows}
        family = GaugeMetricFamily("reelhouse_jobs", "Jobs by kind and status, from the database", labels=["kind", "status"])
        for kind in JobKind:
            for status in REPORTED:
                family.add_metric([kind.value, status.value], counts.get((kind.value, status.value), 0))
        yield family


@router.get("/metrics")
def metrics(request: Request) -> Response:
    jobs = CollectorRegistry(auto_describe=False)
    jobs.register(JobCounts(request.app.state.runtime.db))
    return Response(exposition() + generate_latest(jobs), media_type=CONTENT_TYPE_LATEST)


class Observe:
    """ASGI middleware: request id, latency histogram by route template, access log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _CLIENT_ID.match(given) else uuid.uuid4().hex
        token = logs.request_id.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            REQUEST_SECONDS.labels(scope["method"], template, str(status)).observe(elapsed)
            access.info("%s %s %d %.1f ms", scope["method"], scope["path"], status, elapsed * 1000)
            logs.request_id.reset(token)
