"""The signed upload URL: whole-file PUT and the resumable `Content-Range` protocol (spec section 14).

Each chunk is streamed to scratch, forced to disk, stored as a part object under a key of its own
and only then counted as committed and recorded on the upload, in a short transaction that checks
it starts exactly at the committed offset. So a `308 Range` answer is always the truth, a restart
loses no committed byte, and a dropped connection keeps what arrived: the client's status query
resumes from there.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.requests import ClientDisconnect

from reelhouse.catalog.media import create_media
from reelhouse.catalog.tracks import add_track
from reelhouse.catalog.transforms import subtitle_tracks
from reelhouse.db.enums import UploadStatus
from reelhouse.db.models import Upload, utcnow
from reelhouse.runtime import Runtime
from reelhouse.storage.keys import upload_part_key, upload_prefix
from reelhouse.upload_urls import SignatureError
from reelhouse.wire.errors import ApiError
from reelhouse.wire.schemas import PushMediaSettings

router = APIRouter(include_in_schema=False)

# At most 19 digits a number (under 10 EB, more than any file and within a 64-bit integer), so a hostile header
# cannot make the server convert thousands of digits.
_RANGE = re.compile(r"^bytes (?:([0-9]{1,19})-([0-9]{1,19})|\*)/([0-9]{1,19}|\*)$")


@dataclass(frozen=True)
class ContentRange:
    first: int | None  # None: a status query (`bytes */total`, or `bytes */*` while the total is unknown)
    last: int | None
    total: int | None  # None: not yet known (`/*`)


def parse_content_range(header: str) -> ContentRange:
    match = _RANGE.match(header.strip())
    if not match:
        raise ApiError(400, "Invalid Content-Range", "Expected 'bytes FIRST-LAST/TOTAL' or 'bytes */TOTAL'.")
    first, last, total = match.groups()
    parsed = ContentRange(
        int(first) if first is not None else None,
        int(last) if last is not None else None,
        None if total == "*" else int(total),
    )
    if parsed.first is not None and parsed.last is not None and parsed.last < parsed.first:
        raise ApiError(400, "Invalid Content-Range", "The last byte comes before the first.")
    if parsed.total is not None and parsed.last is not None and parsed.last >= parsed.total:
        raise ApiError(400, "Content-Range exceeds total", f"Byte {parsed.last} is past the declared total {parsed.total}.")
    return parsed


def _cors(upload: Upload | None) -> dict[str, str]:
    if upload is None:
        return {}
    return {
        "Access-Control-Allow-Origin": upload.cors_origin,
        "Access-Control-Expose-Headers": "Location, Range",
    }


def _committed_headers(upload: Upload) -> dict[str, str]:
    headers = _cors(upload)
    if upload.committed:
        headers["Range"] = f"bytes=0-{upload.committed - 1}"
    return headers


def _done(upload: Upload) -> JSONResponse:
    data = {"uploadId": upload.id, "mediaId": upload.media.id if upload.media else None, "size": upload.committed}
    return JSONResponse({"success": True, "data": data}, status_code=200, headers=_cors(upload))


def _incomplete(upload: Upload) -> Response:
    return Response(status_code=308, headers=_committed_headers(upload))


def _load(rt: Runtime, upload_id: str, request: Request) -> Upload:
    """Checks the signature before touching the database, so forged URLs learn nothing."""
    query = request.query_params
    try:
        rt.upload_urls.verify(upload_id, query.get("expires"), query.get("signature"), now=utcnow())
    except SignatureError as exc:
        if str(exc) == "expired":
            raise ApiError(403, "Upload URL expired", "Create a new upload URL to send this file.") from None
        raise ApiError(403, "Invalid upload signature", "This URL was altered or was not issued by this server.") from None
    with rt.db.read() as session:
        upload = session.get(Upload, upload_id)
        if upload is None:
            raise ApiError(404, "Upload not found")
        upload.media  # noqa: B018 - loaded now, read after the session closes
        return upload


def _check_open(upload: Upload, session_id: str | None) -> None:
    if upload.status == UploadStatus.CANCELLED:
        raise ApiError(410, "Upload cancelled", "This upload was cancelled and accepts no more bytes.", headers=_cors(upload))
    if session_id is not None and session_id != upload.session_id:
        raise ApiError(404, "Upload session not found", "Start a new session for this URL.", headers=_cors(upload))


def _too_large(max_bytes: int, headers: dict[str, str]) -> ApiError:
    return ApiError(413, "File too large", f"This server accepts files up to {max_bytes} bytes.", headers=headers)


def _check_offset(upload: Upload, chunk: ContentRange, max_bytes: int) -> None:
    headers = _committed_headers(upload)
    if chunk.total is not None:
        if chunk.total > max_bytes:
            raise _too_large(max_bytes, headers)
        if upload.total_size is not None and chunk.total != upload.total_size:
            raise ApiError(400, "Total size changed", f"The upload was declared as {upload.total_size} bytes.",
                           headers=headers)
        if chunk.total < upload.committed:
            raise ApiError(400, "Total size too small", f"{upload.committed} bytes are already committed.", headers=headers)
    if chunk.last is not None:  # a chunk of unknown total (`/*`) is bounded too
        if chunk.last >= max_bytes:
            raise _too_large(max_bytes, headers)
        if upload.total_size is not None and chunk.last >= upload.total_size:
            raise ApiError(400, "Content-Range exceeds total",
                           f"Byte {chunk.last} is past the declared total {upload.total_size}.", headers=headers)
    if chunk.first is None:
        return
    if chunk.first < upload.committed:
        raise ApiError(400, "Content-Range overlaps committed bytes",
                       f"Bytes 0-{upload.committed - 1} are committed; send from byte {upload.committed}.", headers=headers)
    if chunk.first > upload.committed:
        raise ApiError(400, "Content-Range skips ahead",
                       f"{upload.committed} bytes are committed; send from byte {upload.committed}.", headers=headers)


async def _receive(request: Request, dest: Path, limit: int, too_long: ApiError) -> tuple[int, bool]:
    """Streams the body to dest; returns (bytes received, whether the client went away mid-body)."""
    received = 0
    try:
        with dest.open("wb") as f:
            try:
                async for piece in request.stream():
                    received += len(piece)
                    if received > limit:
                        raise too_long
                    f.write(piece)
            except ClientDisconnect:
                return received, True
            finally:
                f.flush()
                await run_in_threadpool(os.fsync, f.fileno())
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return received, False


def _locked_for_bytes(session: Session, upload_id: str, session_id: str | None) -> Upload:
    """The upload, locked until the commit, while it may still take bytes: 410 once cancelled, 404 for another
    session's URL, 409 once completed."""
    upload = session.get(Upload, upload_id, with_for_update=True)
    assert upload is not None
    _check_open(upload, session_id)
    if upload.status == UploadStatus.COMPLETED:
        raise ApiError(409, "Upload already completed", headers=_cors(upload))
    return upload


def _commit(rt: Runtime, upload_id: str, first: int, part: Path, size: int, chunk: ContentRange,
            session_id: str | None) -> Upload:
    """Stores the part under a key of its own, then, in a short transaction, checks that it starts at the committed
    offset, records it and moves the offset; completes the upload on its last byte. No transaction waits on the
    store, and ingest joins only recorded parts: a part that lost the race for its offset, or whose request died
    before recording it, never ends up in the original."""
    key = upload_part_key(upload_id, first, uuid.uuid4().hex) if size else None
    if key is not None:
        rt.storage.put_file(key, part)
    try:
        with rt.db.write() as session:
            upload = _locked_for_bytes(session, upload_id, session_id)
            received = ContentRange(first, first + size - 1 if size else None, chunk.total)
            _check_offset(upload, received, rt.settings.max_source_bytes)
            if key is not None and (upload.parts is not None or first == 0):  # None: listed at ingest (pre-0008)
                # Parts recorded before a reset to an earlier offset (an expiry sweep) are no longer committed.
                upload.parts = [*(p for p in upload.parts or [] if p["offset"] < first), {"offset": first, "key": key}]
            upload.committed = first + size
            if chunk.total is not None:
                upload.total_size = chunk.total
            if upload.total_size is not None and upload.committed == upload.total_size:
                _complete(rt, session, upload)
            session.flush()
            upload.media  # noqa: B018 - loaded for the response
            return upload
    except ApiError:  # refused, so nothing recorded the part
        if key is not None:
            rt.storage.delete(key)
        raise


def _complete(rt: Runtime, session: Session, upload: Upload) -> None:
    """The last byte is in: the media is created now (findable by the upload id too) and ingest assembles the parts."""
    if upload.committed == 0:
        raise ApiError(400, "Empty file", "A media file cannot be zero bytes.", headers=_cors(upload))
    upload.status = UploadStatus.COMPLETED
    settings = PushMediaSettings.model_validate(upload.settings)
    inputs = settings.inputs or []
    media = create_media(session, workspace_id=upload.workspace_id, settings=settings,
                         inputs=[i.model_dump(exclude_none=True) for i in inputs], upload_id=upload.id)
    for subtitle in subtitle_tracks(inputs):  # made once the media is Ready
        add_track(session, media, subtitle)


def _restart(rt: Runtime, upload_id: str, session_id: str | None) -> Upload:
    """Starts the upload over. The parts it had recorded are deleted once the transaction is over, by key: a part
    another request stores meanwhile is not among them."""
    with rt.db.write() as session:
        upload = _locked_for_bytes(session, upload_id, None)
        dropped = upload.parts
        upload.session_id, upload.committed, upload.total_size, upload.parts = session_id, 0, None, []
    if dropped is None:  # begun before parts were recorded (0008)
        rt.storage.delete_prefix(upload_prefix(upload_id))
    for part in dropped or []:
        rt.storage.delete(part["key"])
    return upload


@router.post("/upload/{upload_id}")
async def start_session(upload_id: str, request: Request) -> Response:
    """`x-goog-resumable: start` opens a fresh session; its URL comes back in Location."""
    rt: Runtime = request.app.state.runtime
    upload = await run_in_threadpool(_load, rt, upload_id, request)
    if request.headers.get("x-goog-resumable", "").lower() != "start":
        raise ApiError(400, "Missing x-goog-resumable: start", "POST opens a resumable session.", headers=_cors(upload))
    session_id = str(uuid.uuid4())
    upload = await run_in_threadpool(_restart, rt, upload_id, session_id)
    # On the public base URL, not the Host this request came through (a proxy's inner address, plain http).
    location = f"{rt.upload_urls.url(upload.id, upload.expires_at)}&upload_id={session_id}"
    return Response(status_code=201, headers={**_cors(upload), "Location": location})


@router.put("/upload/{upload_id}")
async def put_bytes(upload_id: str, request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    upload = await run_in_threadpool(_load, rt, upload_id, request)
    session_id = request.query_params.get("upload_id")
    _check_open(upload, session_id)
    header = request.headers.get("content-range")
    max_bytes = rt.settings.max_source_bytes
    if header is None:  # the whole file in one request: replaces anything sent before
        if upload.status == UploadStatus.COMPLETED:
            raise ApiError(409, "Upload already completed", headers=_cors(upload))
        chunk = ContentRange(0, None, None)
        limit = max_bytes
        too_long = _too_large(max_bytes, _cors(upload))
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise too_long
        upload = await run_in_threadpool(_restart, rt, upload_id, upload.session_id)
    else:
        chunk = parse_content_range(header)
        if upload.status == UploadStatus.COMPLETED:
            return _done(upload)
        _check_offset(upload, chunk, max_bytes)
        if chunk.first is None:  # status query
            if chunk.total is not None and upload.committed == chunk.total:
                upload = await run_in_threadpool(_commit, rt, upload_id, upload.committed, Path(), 0, chunk, session_id)
                return _done(upload)
            return _incomplete(upload)
        assert chunk.last is not None
        limit = chunk.last - chunk.first + 1
        too_long = ApiError(400, "Body longer than Content-Range", f"Expected {limit} bytes.",
                            headers=_committed_headers(upload))

    rt.settings.scratch_dir.mkdir(parents=True, exist_ok=True)
    part = rt.settings.scratch_dir / f"upload-{uuid.uuid4().hex}"
    try:
        received, disconnected = await _receive(request, part, limit, too_long)
        if header is None:
            chunk = ContentRange(0, None, received)
        elif received < limit and not disconnected:
            raise ApiError(400, "Body shorter than Content-Range", f"Expected {limit} bytes, got {received}.",
                           headers=_committed_headers(upload))
        upload = await run_in_threadpool(_commit, rt, upload_id, chunk.first or 0, part, received,
                                         chunk if not disconnected else ContentRange(None, None, None), session_id)
    finally:
        part.unlink(missing_ok=True)
    return _done(upload) if upload.status == UploadStatus.COMPLETED else _incomplete(upload)


@router.options("/upload/{upload_id}")
async def preflight(upload_id: str, request: Request) -> Response:
    """CORS preflight for browser uploads from the upload's `corsOrigin`."""
    rt: Runtime = request.app.state.runtime
    upload = await run_in_threadpool(_load, rt, upload_id, request)
    headers = {
        **_cors(upload),
        "Access-Control-Allow-Methods": "PUT, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type, Content-Range, X-Goog-Resumable",
        "Access-Control-Max-Age": "3600",
    }
    return Response(status_code=204, headers=headers)
