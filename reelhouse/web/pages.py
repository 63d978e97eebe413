"""The dashboard's pages. Each reads only the signed-in person's workspace; changes go through the /v1 API
(with the session and its CSRF token) from the page's script, or through the form posts here, which check
the same token."""

from __future__ import annotations

import base64
import json
import math
import time
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import ColumnElement, Select, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from reelhouse.api.deps import SESSION_COOKIE
from reelhouse.api.signing_keys import create_signing_key
from reelhouse.db.enums import MediaStatus
from reelhouse.db.models import (
    AccessToken,
    Media,
    PlaybackId,
    ServerSecret,
    SigningKey,
    Webhook,
    WebhookDelivery,
    Workspace,
)
from reelhouse.playback import access
from reelhouse.runtime import Runtime
from reelhouse.tokens import create_token, revoke
from reelhouse.users import Locked, close_session, open_session, sign_in
from reelhouse.web.session import (
    LOGIN_CSRF_COOKIE,
    Viewer,
    check_csrf,
    clock,
    new_login_csrf,
    page,
    secure_cookies,
    set_session_cookie,
    to_login,
    viewer,
)
from reelhouse.wire import views
from reelhouse.wire.errors import ApiError, is_uuid

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
# Each order ends with the id in the same direction, so it is one walk of an index on the media table.
SORTS = {"newest": (Media.created_at.desc(), Media.id.desc()), "oldest": (Media.created_at.asc(), Media.id.asc()),
         "title": (Media.title.asc(), Media.id.asc())}
FINAL = (MediaStatus.READY, MediaStatus.FAILED)
SHARE_LIFETIMES = {"1h": 3600, "1d": 86400, "7d": 7 * 86400}


def _rt(request: Request) -> Runtime:
    return request.app.state.runtime


def _safe_next(target: str | None) -> str:
    """Only a path on this site, so the sign-in form cannot be used to send people elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


# ---------------------------------------------------------------- signing in and out

@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    if viewer(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, next, None)


def _login_page(request: Request, next: str | None, error: str | None, status_code: int = 200) -> Response:
    token = new_login_csrf()
    response = page(request, "login.html", {"next": _safe_next(next), "error": error, "csrf": token},
                    status_code=status_code)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure_cookies(request),
                        path="/login")
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    cookie, sent = request.cookies.get(LOGIN_CSRF_COOKIE, ""), str(form.get("csrf", ""))
    next_path = _safe_next(str(form.get("next", "")))
    if not cookie or cookie != sent:
        return _login_page(request, next_path, "The form expired. Please sign in again.", 403)
    rt = _rt(request)
    with rt.db.write() as session:
        try:
            user = sign_in(session, str(form.get("email", "")), str(form.get("password", "")))
        except Locked as exc:
            return _login_page(request, next_path, f"Too many failed sign-ins. Try again in {exc.seconds} seconds.",
                               429)
        secret = open_session(session, user) if user is not None else None
    if secret is None:
        return _login_page(request, next_path, "Wrong email or password.", 401)
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(response, request, secret)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    who = viewer(request)
    if who is not None:
        check_csrf(request, who, dict(await request.form()))
        with _rt(request).db.write() as session:
            close_session(session, request.cookies[SESSION_COOKIE])
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# ---------------------------------------------------------------- library

def _row(media: Media) -> dict[str, Any]:
    """What the library shows of a media, and what its live status poll sends."""
    public = next((p.id for p in media.playback_ids if p.access_policy == "public"), None)
    thumbnail = (f"/images/{public}/thumbnail.jpg?width=160" if public and media.status == MediaStatus.READY
                 and not media.is_audio_only else None)
    return {
        "id": media.id,
        "title": media.title or "",
        "status": media.status,
        "final": media.status in FINAL,
        "duration": clock(media.duration),
        "resolution": f"{media.width}×{media.height}" if media.width and media.height else None,
        "created": views.timestamp(media.created_at),
        "thumbnail": thumbnail,
        "error": media.error if media.status == MediaStatus.FAILED else None,
    }


def library_filter(workspace_id: str, q: str, status: str) -> list[ColumnElement[bool]]:
    """A workspace's media matching the search (a title substring, or an exact id) and the status filter."""
    where = [Media.workspace_id == workspace_id]
    if q.strip():
        term = q.strip()
        where.append(or_(Media.title.ilike(f"%{term}%"), Media.id == term))
    if status in set(MediaStatus):
        where.append(Media.status == status)
    return where


def library_page(where: list[ColumnElement[bool]], sort: str, p: int) -> Select[tuple[Media]]:
    """One page of the library in the chosen order, walked along one of the media table's library indexes."""
    return select(Media).where(*where).order_by(*SORTS.get(sort, SORTS["newest"])) \
        .offset((p - 1) * PAGE_SIZE).limit(PAGE_SIZE)


@router.get("/")
def library(
    request: Request,
    q: Annotated[str, Query(max_length=255)] = "",
    status: Annotated[str, Query(max_length=32)] = "",
    sort: Annotated[str, Query(max_length=16)] = "newest",
    p: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    who = viewer(request)
    if who is None:
        return to_login(request)
    where = library_filter(who.workspace_id, q, status)
    with _rt(request).db.read() as session:
        total = session.scalar(select(func.count()).select_from(Media).where(*where)) or 0
        rows = session.scalars(library_page(where, sort, p).options(selectinload(Media.playback_ids))).all()
        media = [_row(row) for row in rows]
    pages = max(1, math.ceil(total / PAGE_SIZE))
    return page(request, "library.html", {
        "who": who, "media": media, "q": q, "status": status, "sort": sort, "p": p, "pages": pages, "total": total,
        "statuses": list(MediaStatus), "sorts": list(SORTS)})


@router.get("/ui/status")
def live_status(request: Request, ids: Annotated[str, Query(max_length=4000)] = "") -> Response:
    """The current state of the listed media (up to 100) for the library's live update."""
    who = viewer(request)
    if who is None:
        raise ApiError(401, "Unauthorized", "Sign in again.")
    wanted = [i for i in ids.split(",") if is_uuid(i)][:100]
    with _rt(request).db.read() as session:
        rows = session.scalars(select(Media).where(Media.workspace_id == who.workspace_id, Media.id.in_(wanted))
                               .options(selectinload(Media.playback_ids))).all()
        data = {row.id: _row(row) for row in rows}
    return JSONResponse(data, headers={"Cache-Control": "no-store"})


@router.get("/upload")
def upload_page(request: Request) -> Response:
    who = viewer(request)
    if who is None:
        return to_login(request)
    return page(request, "upload.html", {"who": who})


# ---------------------------------------------------------------- media page

def _not_found(request: Request, who: Viewer | None) -> Response:
    return page(request, "error.html", {"who": who, "title": "Not found",
                                        "message": "There is no such media in your workspace."}, status_code=404)


@router.get("/media/{media_id}")
def media_page(request: Request, media_id: str) -> Response:
    who = viewer(request)
    if who is None:
        return to_login(request)
    rt = _rt(request)
    with rt.db.read() as session:
        row = session.scalar(select(Media).where(Media.id == media_id, Media.workspace_id == who.workspace_id)
                             .options(*(selectinload(r) for r in views.RENDERED))) if is_uuid(media_id) else None
        if row is None:
            return _not_found(request, who)
        media = views.media(row, "").model_dump(by_alias=True, mode="json")
        info = views.input_info(row, None).model_dump(by_alias=True, mode="json", exclude_none=True)
        deliveries = session.execute(
            select(WebhookDelivery, Webhook.url).join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(WebhookDelivery.object_id == row.id, Webhook.workspace_id == who.workspace_id)
            .order_by(WebhookDelivery.event_seq.desc()).limit(50)
            .options(selectinload(WebhookDelivery.event))
        ).all()
        delivery_rows = [{"id": d.id, "webhook_id": d.webhook_id, "url": url, "type": d.event.type,
                          "status": d.status, "attempts": d.attempts} for d, url in deliveries]
    public = next((p["id"] for p in media["playbackIds"] if p["accessPolicy"] == "public"), None)
    return page(request, "media.html", {"who": who, "m": media, "info": info, "public": public,
                                        "deliveries": delivery_rows, "share": None, "lifetimes": list(SHARE_LIFETIMES)})


def share_key(rt: Runtime, workspace_id: str) -> tuple[str, Any]:
    """The workspace's one signing key for dashboard share links: (key id, private key). Its private half is
    kept server-side in `server_secrets`, so links reuse it and keys do not pile up; deleting the key on the
    Developers page revokes every link it signed, and the next link gets a fresh key."""
    name = f"share-key:{workspace_id}"
    for _ in range(2):
        with rt.db.read() as session:
            secret = session.get(ServerSecret, name)
            stored = json.loads(secret.value) if secret is not None else None
            if stored is not None and session.get(SigningKey, stored["kid"]) is not None:
                return stored["kid"], load_pem_private_key(stored["pem"].encode(), password=None)
        created = create_signing_key(rt, workspace_id).data
        value = json.dumps({"kid": created.id, "pem": base64.b64decode(created.private_key).decode()})
        try:
            with rt.db.write() as session:
                session.execute(delete(ServerSecret).where(ServerSecret.name == name,
                                                           ServerSecret.value == (secret.value if secret else "")))
                session.add(ServerSecret(name=name, value=value))
        except IntegrityError:  # another request stored the workspace's key first: use that one
            with rt.db.write() as session:
                session.execute(delete(SigningKey).where(SigningKey.id == created.id))
            continue
        return created.id, load_pem_private_key(base64.b64decode(created.private_key), password=None)
    raise RuntimeError("could not store the workspace's share key")


@router.post("/media/{media_id}/share")
async def share_link(request: Request, media_id: str) -> Response:
    """A signed, expiring link to the watch page of a private playback ID, signed with the workspace's share key."""
    who = viewer(request)
    if who is None:
        return to_login(request)
    form = dict(await request.form())
    check_csrf(request, who, form)
    playback_id, lifetime = str(form.get("playbackId", "")), SHARE_LIFETIMES.get(str(form.get("expires", "")), 86400)
    rt = _rt(request)
    with rt.db.read() as session:
        found = session.scalar(select(PlaybackId).join(Media, Media.id == PlaybackId.media_id).where(
            PlaybackId.id == playback_id, Media.id == media_id, Media.workspace_id == who.workspace_id)) \
            if is_uuid(playback_id) and is_uuid(media_id) else None
    if found is None:
        return _not_found(request, who)
    key_id, private = await run_in_threadpool(share_key, rt, who.workspace_id)
    token = jwt.encode({"kid": key_id, "aud": f"media:{playback_id}", "exp": int(time.time()) + lifetime},
                       private, algorithm="RS256", headers={"kid": key_id})
    url = f"{rt.settings.base_url}/watch/{playback_id}?token={token}"
    return page(request, "shared.html", {"who": who, "url": url, "media_id": media_id, "key_id": key_id,
                                         "expires": lifetime})


# ---------------------------------------------------------------- developers

@router.get("/developers")
def developers(request: Request) -> Response:
    who = viewer(request)
    if who is None:
        return to_login(request)
    return _developers(request, who, None)


def _developers(request: Request, who: Viewer, new_token: dict[str, str] | None) -> Response:
    with _rt(request).db.read() as session:
        tokens = session.scalars(select(AccessToken).where(
            AccessToken.workspace_id == who.workspace_id, AccessToken.revoked_at.is_(None))
            .order_by(AccessToken.created_at)).all()
        keys = session.scalars(select(SigningKey).where(SigningKey.workspace_id == who.workspace_id)
                               .order_by(SigningKey.created_at)).all()
        hooks = session.scalars(select(Webhook).where(Webhook.workspace_id == who.workspace_id)
                                .order_by(Webhook.created_at)).all()
        context = {
            "who": who, "new_token": new_token,
            "tokens": [{"id": t.id, "name": t.name, "created": views.timestamp(t.created_at)} for t in tokens],
            "keys": [{"id": k.id, "created": views.timestamp(k.created_at)} for k in keys],
            "hooks": [{"id": h.id, "url": h.url, "events": h.events, "enabled": h.enabled} for h in hooks],
        }
    return page(request, "developers.html", context)


@router.post("/developers/tokens")
async def create_access_token(request: Request) -> Response:
    who = viewer(request)
    if who is None:
        return to_login(request)
    form = dict(await request.form())
    check_csrf(request, who, form)
    with _rt(request).db.write() as session:
        workspace = session.get(Workspace, who.workspace_id)
        assert workspace is not None
        token, secret = create_token(session, workspace=workspace.name, name=str(form.get("name", ""))[:255])
        created = {"id": token.id, "secret": secret}
    return _developers(request, who, created)


@router.post("/developers/tokens/{token_id}/revoke")
async def revoke_access_token(request: Request, token_id: str) -> Response:
    who = viewer(request)
    if who is None:
        return to_login(request)
    check_csrf(request, who, dict(await request.form()))
    with _rt(request).db.write() as session:
        token = session.get(AccessToken, token_id) if is_uuid(token_id) else None
        if token is None or token.workspace_id != who.workspace_id:
            return _not_found(request, who)
        revoke(session, token.id)
    _rt(request).credentials.forget(token.id)
    return RedirectResponse("/developers", status_code=303)


# ---------------------------------------------------------------- embed and watch

@router.get("/embed/{playback_id}")
def embed(request: Request, playback_id: str) -> Response:
    return _player(request, playback_id, "embed.html", frameable=True)


@router.get("/watch/{playback_id}")
def watch(request: Request, playback_id: str) -> Response:
    return _player(request, playback_id, "watch.html", frameable=False)


def _player(request: Request, playback_id: str, template: str, *, frameable: bool) -> Response:
    """Honours the playback ID's rules exactly as its stream does: a private one needs a valid `?token=`."""
    try:
        grant = access.authorize(_rt(request), playback_id, request)
    except ApiError as exc:
        return page(request, "error.html", {"who": None, "title": exc.message, "message": exc.description or ""},
                    status_code=exc.status, frameable=frameable)
    suffix = f"?token={grant.token}" if grant.token else ""
    poster = None if grant.media.is_audio_only else f"/images/{playback_id}/thumbnail.jpg{suffix}"
    return page(request, template, {"who": None, "title": grant.media.title or "Video",
                                    "src": f"/stream/{playback_id}.m3u8{suffix}", "poster": poster,
                                    "ready": grant.media.status == MediaStatus.READY}, frameable=frameable)
