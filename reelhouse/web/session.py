"""Who is looking at a page: the signed-in person behind the session cookie, CSRF checks, security headers."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from reelhouse.api.deps import CSRF_HEADER, SESSION_COOKIE
from reelhouse.runtime import Runtime
from reelhouse.users import SESSION_LIFETIME, session_for
from reelhouse.web.assets import asset_url
from reelhouse.wire.errors import ApiError

LOGIN_CSRF_COOKIE = "reelhouse_login_csrf"  # double-submit token for the sign-in form, before any session exists

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
       "connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'")

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")  # autoescapes .html
templates.env.globals["asset"] = asset_url


def clock(seconds: float | str | None) -> str:
    """How people read a length: `0:02`, `12:30`, `1:02:03` (the API's decimal seconds are for programs)."""
    if seconds is None:
        return "—"
    total = round(float(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


templates.env.filters["clock"] = clock


@dataclass(frozen=True)
class Viewer:
    """The signed-in person: their workspace bounds every query a page makes."""

    user_id: str
    email: str
    workspace_id: str
    is_admin: bool
    csrf: str


def viewer(request: Request) -> Viewer | None:
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    rt: Runtime = request.app.state.runtime
    with rt.db.read() as session:
        found = session_for(session, secret)
        if found is None:
            return None
        user = found.user
        return Viewer(user.id, user.email, user.workspace_id, user.is_admin, found.csrf_token)


def to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={_quote(target)}", status_code=303)


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def check_csrf(request: Request, who: Viewer, form: dict[str, Any]) -> None:
    """A state-changing form post carries the session's token in a field (or the header); a forged one cannot."""
    sent = str(form.get("csrf") or request.headers.get(CSRF_HEADER) or "")
    if not hmac.compare_digest(sent.encode(), who.csrf.encode()):
        raise ApiError(403, "CSRF token missing or wrong", "Reload the page and try again.")


def secure_cookies(request: Request) -> bool:
    rt: Runtime = request.app.state.runtime
    return rt.settings.base_url.startswith("https://")


def set_session_cookie(response: Response, request: Request, secret: str) -> None:
    response.set_cookie(SESSION_COOKIE, secret, max_age=int(SESSION_LIFETIME.total_seconds()), httponly=True,
                        samesite="lax", secure=secure_cookies(request), path="/")


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def page(request: Request, template: str, context: dict[str, Any], *, status_code: int = 200,
         frameable: bool = False) -> HTMLResponse:
    """A rendered page with the security headers every page gets; only the embed page may be framed."""
    response = templates.TemplateResponse(request, template, context, status_code=status_code)
    harden(response, frameable=frameable)
    return response


def harden(response: Response, *, frameable: bool = False) -> None:
    ancestors = "*" if frameable else "'none'"
    response.headers["Content-Security-Policy"] = f"{CSP}; frame-ancestors {ancestors}"
    if not frameable:
        response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
