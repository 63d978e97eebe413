"""`/stream/...`: the master playlist (built from published renditions), variant playlists and segments."""

from __future__ import annotations

import math
import os
import re
import time
from dataclasses import dataclass
from urllib.parse import quote, unquote

import jwt
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelhouse.db.enums import MediaStatus
from reelhouse.db.generation import Remembered
from reelhouse.db.models import Rendition
from reelhouse.media import hls
from reelhouse.media.ladder import HEIGHTS
from reelhouse.playback.access import LEEWAY_SECONDS, Grant, authorized, not_found
from reelhouse.playback.files import PlaybackRoute, headers, object_response
from reelhouse.runtime import Runtime
from reelhouse.storage import StorageError
from reelhouse.storage.keys import rendition_prefix

router = APIRouter(include_in_schema=False, route_class=PlaybackRoute)

_NAME = re.compile(r"^[a-z0-9_-]{1,64}$")
_FILE = re.compile(rf"^(init\.mp4|{hls.SEGMENT_NAME}\.(m4s|vtt))$")
CONTENT_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".m4s": "video/iso.segment", ".mp4": "video/mp4",
                 ".vtt": "text/vtt; charset=utf-8"}
PLAYLIST_SECONDS = 5  # the master gains rungs as the ladder lands
GROWING_SECONDS = 1  # a playlist still growing gains a segment every few seconds
SEGMENT_SECONDS = 31_536_000  # a published segment never changes


def _with_token(uri: str, token: str | None) -> str:
    """Players do not carry a playlist's query string over to the URIs inside it, so signed playback needs it written in."""
    return f"{uri}?token={quote(token, safe='')}" if token else uri


def _within(rendition: Rendition, resolution: str | None) -> bool:
    """A playback ID created with `resolution` plays no rung above it."""
    return resolution is None or min(rendition.width or 0, rendition.height or 0) <= HEIGHTS[resolution]


def master_for(grant: Grant) -> str:
    """Video rungs are the variants; every audio rendition (the original's and added tracks) and every subtitle
    rendition is an alternate in a group each variant names, so players switch language. Audio-only media plays
    its default audio as the variant, with the group when there are other audios to switch to."""
    pid = grant.playback.id
    offered = [r for r in grant.media.renditions if not r.replaced]  # replaced ones serve only players that had them
    videos = [r for r in offered if r.type == "video" and _within(r, grant.playback.resolution)]
    audios = [r for r in offered if r.type == "audio"]
    subtitles = [r for r in offered if r.type == "subtitle"]
    default_audio = next((a for a in audios if a.is_default), audios[0] if audios else None)  # the original's
    peak_audio = max((a.bandwidth for a in audios), default=0)
    average_audio = max((a.average_bandwidth for a in audios), default=0)
    audio_codecs = list(dict.fromkeys(a.codecs for a in audios))
    audio_group = hls.AUDIO_GROUP if audios and (videos or len(audios) > 1) else None
    subtitle_group = hls.SUBTITLE_GROUP if subtitles else None

    def uri(r: Rendition) -> str:
        return _with_token(f"{pid}/{r.name}/index.m3u8", grant.token)

    alternates = [
        hls.Alternate("AUDIO", hls.AUDIO_GROUP, a.label or "Original", a.language, uri(a), a is default_audio)
        for a in (audios if audio_group else [])
    ]
    alternates += [
        hls.Alternate("SUBTITLES", hls.SUBTITLE_GROUP, s.label or "Subtitles", s.language, uri(s), False,
                      characteristics=s.characteristics)
        for s in subtitles
    ]
    if not videos:
        variants = [
            hls.Variant(uri(a), a.bandwidth, a.average_bandwidth, ",".join(audio_codecs) if audio_group else a.codecs,
                        audio_group=audio_group, subtitle_group=subtitle_group)
            for a in ([default_audio] if default_audio else [])
        ]
        return hls.master_playlist(variants, alternates)
    variants = [
        hls.Variant(
            uri(v),
            v.bandwidth + peak_audio,
            v.average_bandwidth + average_audio,
            ",".join([v.codecs, *audio_codecs]),
            v.width,
            v.height,
            v.frame_rate,
            audio_group,
            subtitle_group,
        )
        for v in videos
    ]
    return hls.master_playlist(variants, alternates)


def _rendition(grant: Grant, name: str) -> Rendition:
    """Only a Ready media plays: one whose encode failed halfway serves nothing of what it had published."""
    if not _NAME.match(name) or grant.media.status != MediaStatus.READY:
        raise not_found()
    rendition = next((r for r in grant.media.renditions if r.name == name), None)
    if rendition is None or not _within(rendition, grant.playback.resolution):
        raise not_found()
    return rendition


@router.get("/stream/{playback_id}.m3u8")
async def master(playback_id: str, request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    grant = await authorized(rt, playback_id, request)
    if grant.media.status != MediaStatus.READY or not grant.media.renditions:
        raise not_found()
    return Response(master_for(grant), media_type=CONTENT_TYPES[".m3u8"], headers=headers(grant, PLAYLIST_SECONDS))


@router.get("/stream/{playback_id}/{name}/index.m3u8")
async def variant(playback_id: str, name: str, request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    grant = await authorized(rt, playback_id, request)
    rendition = _rendition(grant, name)
    key = f"{rendition_prefix(grant.media.id, rendition.name)}/index.m3u8"
    try:  # off the event loop: on an object store this is a network round trip
        data = await run_in_threadpool(rt.storage.read, key)
    except StorageError:  # the media was deleted since its row was read
        raise not_found() from None
    text = data.decode()
    if grant.token:
        text = _sign_playlist(text, grant.token)
    seconds = PLAYLIST_SECONDS if rendition.complete else GROWING_SECONDS
    return Response(text, media_type=CONTENT_TYPES[".m3u8"], headers=headers(grant, seconds))


def _sign_playlist(text: str, token: str) -> str:
    lines = []
    for line in text.splitlines():
        if line.startswith("#EXT-X-MAP:URI="):
            uri = line.split('"')[1]
            line = f'#EXT-X-MAP:URI="{_with_token(uri, token)}"'
        elif line and not line.startswith("#"):
            line = _with_token(line, token)
        lines.append(line)
    return "\n".join(lines) + "\n"


def segment_response(rt: Runtime, grant: Grant, name: str, file: str) -> Response:
    """An init, media or cue segment of `grant`'s rendition `name`; raises 404 for any other."""
    if not _FILE.match(file):
        raise not_found()
    rendition = _rendition(grant, name)
    key = f"{rendition_prefix(grant.media.id, rendition.name)}/{file}"
    media_type = CONTENT_TYPES[file[file.rindex("."):]]
    # Cue text is escaped when subtitles are made; no browser may sniff a segment into a page either.
    no_sniff = {"X-Content-Type-Options": "nosniff"}
    return object_response(rt, key, media_type, {**headers(grant, SEGMENT_SECONDS, immutable=True), **no_sniff},
                           shareable=grant.shareable)


@router.get("/stream/{playback_id}/{name}/{file}")
async def segment(playback_id: str, name: str, file: str, request: Request) -> Response:
    if not _FILE.match(file):  # before any lookup
        raise not_found()
    rt: Runtime = request.app.state.runtime
    return segment_response(rt, await authorized(rt, playback_id, request), name, file)


SEGMENT_ROUTE = router.routes[-1]
_SEGMENT_PATH = re.compile(r"/stream/[^/]+/[^/]+/[^/]+")
REPLAYED = 10_000  # segment answers one process keeps; past that it starts over
# Headers that may make the route answer otherwise than in full: such requests always go to the route.
_PARTIAL = frozenset((b"range", b"if-range", b"content-length", b"transfer-encoding"))
# Headers the access rules read (`access.authorize`): part of what an answer is kept under.
_RULED = (b"origin", b"referer", b"user-agent")


@dataclass(frozen=True, slots=True)
class _Answer:
    """What the segment route answered to a whole-file GET: its two messages, the file they name (inode, size and
    modification time, so a file replaced or gone goes back to the route) and until when a signed token holds."""

    headers: list[tuple[bytes, bytes]]
    body: Message
    path: str
    file: tuple[int, int, int]
    until: float

    def holds(self) -> bool:
        return _identity(self.path) == self.file and time.time() < self.until


def _identity(path: str) -> tuple[int, int, int] | None:
    """A file's inode, size and modification time, which change when it is replaced; None when it is gone."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_ino, found.st_size, found.st_mtime_ns


_answers: Remembered[tuple[bytes | None, ...], _Answer] = Remembered(REPLAYED)


class SegmentLane:
    """ASGI middleware for the request players make most. Routing, access checks and building a file response cost a
    segment several times what sending it does, so the route's 200 to a whole-segment GET is kept, under everything
    the access rules read (path, query with its token, Origin, Referer, User-Agent), and sent again while nothing they
    read has changed (the database's change count, as for the access cache), the file is the same and the token has
    not expired. Anything else, every refusal included, goes to the route; so does everything where the database
    keeps no change count (PostgreSQL)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = scope["type"] == "http" and scope["method"] == "GET" and _replay_key(scope)
        rt: Runtime | None = scope["app"].state.runtime if key else None
        kept = _answers.current(rt.db.generation) if rt else None
        if kept is None:
            await self.app(scope, receive, send)
            return
        answer = kept.get(key)
        if answer is not None and answer.holds():
            scope["route"] = SEGMENT_ROUTE  # what the access log and the metrics name it by
            await send({"type": "http.response.start", "status": 200, "headers": answer.headers})
            await send(answer.body)
            return
        sent: list[Message] = []

        async def recorded(message: Message) -> None:
            sent.append(message)
            await send(message)

        await self.app(scope, receive, recorded)
        if scope.get("route") is SEGMENT_ROUTE and (answer := _kept_answer(rt, scope, sent)) is not None:
            kept[key] = answer


def _replay_key(scope: Scope) -> tuple[bytes | None, ...] | None:
    """What a segment GET's answer is kept under; None for any other request, or one that may not get the whole file."""
    if not _SEGMENT_PATH.fullmatch(scope["path"]):
        return None
    ruled: dict[bytes, bytes | None] = dict.fromkeys(_RULED)
    for name, value in scope["headers"]:
        if name in _PARTIAL:
            return None
        if name in ruled and ruled[name] is None:  # the first of each, as `Request.headers.get` reads it
            ruled[name] = value
    return (scope["path"].encode(), scope["query_string"], *ruled.values())


def _kept_answer(rt: Runtime, scope: Scope, sent: list[Message]) -> _Answer | None:
    """The route's answer as one to send again: a 200 whose body is the whole file, sent by the server (pathsend) or
    by the nginx in front (X-Accel-Redirect); None for any other."""
    if len(sent) != 2 or sent[0]["type"] != "http.response.start" or sent[0]["status"] != 200:
        return None
    start, body = sent
    headers = list(start.get("headers", []))
    if body["type"] == "http.response.pathsend":
        path = body["path"]
    else:
        location = dict(headers).get(b"x-accel-redirect")
        prefix = rt.settings.accel_redirect
        if body != {"type": "http.response.body", "body": b""} or location is None or prefix is None:
            return None
        local = rt.storage.local_path(unquote(location.decode()[len(prefix):]))
        if local is None:
            return None
        path = str(local)
    file = _identity(path)
    if file is None:
        return None
    return _Answer(headers, body, path, file, _token_expiry(QueryParams(scope["query_string"]).get("token")))


def _token_expiry(token: str | None) -> float:
    """When the route would stop accepting `token` (already verified by it): its `exp` with the leeway allowed;
    never for no token, or a token a public playback ID did not need."""
    if token is None:
        return math.inf
    try:
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    except jwt.InvalidTokenError:
        return math.inf  # the route accepted it: a public playback ID, which reads no token
    return exp + LEEWAY_SECONDS if isinstance(exp, (int, float)) else math.inf
