"""Static files (our CSS and JavaScript, and the vendored libraries under static/vendor/), served under a
content digest so browsers may cache them forever: a changed file gets a new address."""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from reelhouse.wire.errors import ApiError

STATIC = Path(__file__).parent / "static"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


def _digest() -> str:
    h = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            h.update(path.relative_to(STATIC).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


DIGEST = _digest()
router = APIRouter(include_in_schema=False)


def asset_url(name: str) -> str:
    return f"/assets/{DIGEST}/{name}"


@router.get("/assets/{digest}/{name:path}")
def asset(digest: str, name: str) -> FileResponse:
    path = (STATIC / name).resolve()
    if digest != DIGEST or not path.is_relative_to(STATIC) or path.suffix not in _TYPES or not path.is_file():
        raise ApiError(404, "Not found", "No such asset.")
    return FileResponse(path, media_type=_TYPES[path.suffix], headers={
        "Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"})
