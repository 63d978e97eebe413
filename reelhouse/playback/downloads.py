"""Whole files behind a playback ID: `capped-4k.mp4` and `audio.m4a` (`mp4Support`), `source` (`sourceAccess`) and
`chapters.vtt` (chapters). One path segment after the playback ID, so they never meet the `/{name}/{file}` HLS
routes."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from reelhouse.ai.chapters import Chapter, chapters_webvtt
from reelhouse.db.enums import DownloadStatus, InsightKind, InsightStatus, MediaStatus
from reelhouse.db.models import Insight
from reelhouse.media import mp4
from reelhouse.playback.access import authorize, not_found
from reelhouse.playback.files import PlaybackRoute, headers, object_response
from reelhouse.runtime import Runtime
from reelhouse.storage.keys import download_key, original_key

router = APIRouter(include_in_schema=False, route_class=PlaybackRoute)

CACHE_SECONDS = 600  # short: turning mp4Support or sourceAccess off should take effect soon, even behind a CDN
EXTENSIONS = {"matroska": "mkv", "mpegts": "ts"}  # container names that are not also file extensions


@router.get("/stream/{playback_id}/capped-4k.mp4")
def capped_4k(playback_id: str, request: Request) -> Response:
    return _rendition(request, playback_id, mp4.CAPPED_4K)


@router.get("/stream/{playback_id}/audio.m4a")
def audio_only(playback_id: str, request: Request) -> Response:
    return _rendition(request, playback_id, mp4.AUDIO_ONLY)


@router.get("/stream/{playback_id}/source")
def source(playback_id: str, request: Request) -> Response:
    """The original exactly as uploaded, as an attachment, while `sourceAccess` is on."""
    rt: Runtime = request.app.state.runtime
    grant = authorize(rt, playback_id, request)
    media = grant.media
    if not media.source_access:
        raise not_found()
    fmt = media.container_format
    filename = f"{media.id}.{EXTENSIONS.get(fmt, fmt)}" if fmt else media.id
    attachment = headers(grant, CACHE_SECONDS) | {"Content-Disposition": f'attachment; filename="{filename}"'}
    return object_response(rt, original_key(media.id), "application/octet-stream", attachment,
                           shareable=grant.shareable)


@router.get("/stream/{playback_id}/chapters.vtt")
def chapters(playback_id: str, request: Request) -> Response:
    """The media's chapters as WebVTT, for a player's chapter track; 404 until they are ready."""
    rt: Runtime = request.app.state.runtime
    grant = authorize(rt, playback_id, request)
    with rt.db.read() as session:
        data = session.scalar(
            select(Insight.data).where(
                Insight.media_id == grant.media.id,
                Insight.kind == InsightKind.CHAPTERS,
                Insight.status == InsightStatus.READY,
            )
        )
    if data is None:
        raise not_found()
    text = chapters_webvtt([Chapter(**chapter) for chapter in data["chapters"]])
    no_sniff = {"X-Content-Type-Options": "nosniff"}
    return Response(text, media_type="text/vtt; charset=utf-8", headers=headers(grant, CACHE_SECONDS) | no_sniff)


def _rendition(request: Request, playback_id: str, kind: mp4.Kind) -> Response:
    """404 until the rendition's job has recorded it ready, again once `mp4Support` no longer asks for it, and once
    the media failed (its encode may break after Ready)."""
    rt: Runtime = request.app.state.runtime
    grant = authorize(rt, playback_id, request)
    if grant.media.status != MediaStatus.READY:
        raise not_found()
    if not any(d.type == kind.type and d.status == DownloadStatus.READY for d in grant.media.downloads):
        raise not_found()
    key = download_key(grant.media.id, kind.file)
    return object_response(rt, key, kind.content_type, headers(grant, CACHE_SECONDS), shareable=grant.shareable)
