"""The ASGI application: the /v1 API, the upload URL endpoint and, in `serve`, the embedded workers."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from granian.utils.proxies import wrap_asgi_with_proxy_headers
from starlette.types import ASGIApp

from reelhouse import __version__, logs
from reelhouse.api import (
    ai,
    clips,
    drm,
    errors,
    limits,
    media,
    media_extras,
    ops,
    playback_ids,
    playlists,
    signing_keys,
    tracks,
    uploads,
    webhooks,
)
from reelhouse.api.idempotency import sweep_expired_keys
from reelhouse.api.throttle import FailureThrottle
from reelhouse.jobs.reconcile import fail_stranded
from reelhouse.jobs.worker import WorkerPool
from reelhouse.playback import downloads, images, stream
from reelhouse.runtime import Runtime
from reelhouse.settings import Settings
from reelhouse.storage import Storage
from reelhouse.uploads import protocol
from reelhouse.uploads.cleanup import Sweeper, sweep_expired
from reelhouse.web import assets, pages
from reelhouse.webhooks.delivery import DeliveryWorker


def create_app(settings: Settings, *, workers: bool = True, storage: Storage | None = None) -> FastAPI:
    """`workers=False` serves the API alone, for nodes where separate worker processes run the jobs, as they do
    wherever a broker is configured; `storage` replaces the configured backend."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        dispatcher = None
        if settings.broker_url:  # imported only then: the embedded default loads no Celery
            from reelhouse.jobs.celery_app import dispatcher_for

            dispatcher = dispatcher_for(settings)
        runtime = Runtime.open(settings, storage=storage, dispatcher=dispatcher)
        app.state.runtime = runtime
        embedded = workers and dispatcher is None
        pool = WorkerPool(runtime, size=settings.workers if embedded else 0)
        pool.start()
        deliveries = DeliveryWorker(runtime, settings.webhook_workers if embedded else 0)
        deliveries.start()
        sweeper = Sweeper(runtime, chores=(sweep_expired, fail_stranded, sweep_expired_keys))
        sweeper.start()
        # What exists now (modules, routes, schemas, the runtime: most of the heap) lives as long as the process, yet
        # every full collection walked all of it again, stopping every request for that long.
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            sweeper.stop()
            deliveries.stop()
            pool.stop()
            runtime.close()

    app = FastAPI(
        title="reelhouse",
        version=__version__,
        description="Self-hosted on-demand video, wire-compatible with FastPix's manage-videos API.",
        lifespan=lifespan,
        openapi_url="/v1/openapi.json",
        docs_url="/v1/docs",
        redoc_url=None,
        # FastAPI's OpenTelemetry hooks look for a configured provider on every request, about a tenth of what a
        # segment costs; reelhouse reports through its own /metrics and log lines.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.add_middleware(stream.SegmentLane)  # innermost: a crash in it still meets the crash barrier
    errors.install(app)
    app.state.auth_failures = FailureThrottle(settings.auth_failure_limit, settings.auth_failure_window)
    app.add_middleware(ops.Observe)
    limits.install(app, settings.max_request_bytes)
    # Each router straight into the app: FastAPI matches a nested router's routes once to pick it and again to run
    # it, so one more level of nesting would walk every route before the requested one twice more.
    for router in (
        uploads.router,  # before media: `/on-demand/uploads` must not match `/on-demand/{mediaId}`
        drm.router,  # before media, for the same reason: `/on-demand/drm-configurations`
        playlists.router,  # and `/on-demand/playlists`
        clips.router,
        media_extras.router,
        media.router,
        tracks.router,
        ai.router,
        playback_ids.router,
        signing_keys.router,
        webhooks.router,
    ):
        app.include_router(router, prefix="/v1")
    app.include_router(protocol.router)
    app.include_router(stream.router)
    app.include_router(images.router)
    app.include_router(downloads.router)
    app.include_router(assets.router)
    app.include_router(pages.router)
    app.include_router(ops.router)
    return app


def app_from_environment() -> ASGIApp:
    """The app for each process of `serve --processes N`, configured by `REELHOUSE_*` variables (the flags went
    there): `REELHOUSE_WORKERS=0` for `--no-workers`. Like uvicorn, it takes the client's address and scheme from
    `X-Forwarded-For`/`-Proto` set by a proxy on this machine (127.0.0.1), so throttles count clients, not the proxy."""
    settings = Settings()
    logs.configure(settings.log_format)
    return wrap_asgi_with_proxy_headers(create_app(settings), trusted_hosts="127.0.0.1")
