"""Direct-upload routes under /v1: create a signed upload URL, list unused ones, cancel one."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.orm import selectinload

from reelhouse.api.deps import PageDep, RuntimeDep, UploadIdDep, WorkspaceDep
from reelhouse.api.idempotency import IdempotencyDep
from reelhouse.api.routing import WireRoute
from reelhouse.catalog.media import refuse_unsupported
from reelhouse.catalog.tracks import check_speech_language
from reelhouse.catalog.transforms import check_urls
from reelhouse.db.enums import UploadStatus
from reelhouse.db.models import Upload, utcnow
from reelhouse.storage.keys import upload_prefix
from reelhouse.webhooks.events import emit_upload
from reelhouse.wire import views
from reelhouse.wire.errors import ApiError, invalid_field, not_found
from reelhouse.wire.schemas import CancelledUploadOut, DirectUploadRequest, Envelope, ListEnvelope, UploadOut

router = APIRouter(route_class=WireRoute, tags=["uploads"])


@router.post("/on-demand/upload", status_code=201, response_model=Envelope[UploadOut], summary="Create a direct upload URL")
def create_upload(
    body: DirectUploadRequest, rt: RuntimeDep, workspace: WorkspaceDep, idempotency: IdempotencyDep
) -> Envelope[UploadOut] | JSONResponse:
    if (first := idempotency.replay(rt, body)) is not None:
        return first
    settings = body.push_media_settings
    for item in settings.inputs or []:
        refuse_unsupported(settings, item.unsupported())
    refuse_unsupported(settings)
    check_urls(rt.address_policy, settings.inputs or [])
    if settings.subtitles is not None:
        check_speech_language(rt.settings, settings.subtitles.language_code)
    timeout = body.timeout or rt.settings.upload_default_timeout
    if timeout > rt.settings.upload_max_timeout:
        raise invalid_field("timeout", f"must be at most {rt.settings.upload_max_timeout} seconds")
    now = utcnow()
    with rt.db.write() as session:
        upload = Upload(
            workspace_id=workspace,
            cors_origin=body.cors_origin,
            timeout=timeout,
            expires_at=now + timedelta(seconds=timeout),
            settings=settings.stored(),
        )
        session.add(upload)
        session.flush()
        url = rt.upload_urls.url(upload.id, upload.expires_at)
        emit_upload(session, "video.media.upload", upload, url=url)
        out = Envelope(data=views.upload(upload, url))
        idempotency.remember(session, body, 201, out)
        return out


@router.get("/on-demand/uploads", response_model=ListEnvelope[UploadOut], summary="Get all unused upload URLs")
def list_uploads(rt: RuntimeDep, workspace: WorkspaceDep, page: PageDep) -> ListEnvelope[UploadOut]:
    with rt.db.read() as session:
        rows, pagination = page.select(session, Upload, Upload.workspace_id == workspace, Upload.status != UploadStatus.COMPLETED,
                                       by=Upload.created_at, options=[selectinload(Upload.media)])
        data = [views.upload(row, rt.upload_urls.url(row.id, row.expires_at)) for row in rows]
    return ListEnvelope(data=data, pagination=pagination)


@router.put(
    "/on-demand/upload/{uploadId}/cancel", response_model=Envelope[CancelledUploadOut], summary="Cancel ongoing upload"
)
def cancel_upload(upload_id: UploadIdDep, rt: RuntimeDep, workspace: WorkspaceDep) -> Envelope[CancelledUploadOut]:
    with rt.db.write() as session:
        upload = session.get(Upload, upload_id, with_for_update=True)
        if upload is None or upload.workspace_id != workspace:
            raise not_found("Upload")
        if upload.status == UploadStatus.COMPLETED:
            raise ApiError(400, "Upload already completed", "The file was fully received and its media was created.")
        upload.status = UploadStatus.CANCELLED
        session.flush()
        url = rt.upload_urls.url(upload.id, upload.expires_at)
        emit_upload(session, "video.media.upload.cancelled", upload, url=url)
        out = views.cancelled_upload(upload, url)
    rt.storage.delete_prefix(upload_prefix(upload_id))
    return Envelope(data=out)
