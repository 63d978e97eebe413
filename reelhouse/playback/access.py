"""Who may play what: a playback ID's policy and restrictions, checked on every stream, image and download request.

It runs for every segment. Where the database keeps a shared change count (`db.generation`, SQLite) the rows it
reads are cached per process until any watched row changes, so a segment costs no database round trip and a deleted
or restricted playback ID still stops playing on the next request; elsewhere it costs one round trip (playback ID,
media, its renditions and downloads and the token's signing key). Each public key is parsed once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import idna
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import and_, select
from sqlalchemy.orm import joinedload, selectinload

from reelhouse.db.generation import Remembered
from reelhouse.db.models import Media, PlaybackId, SigningKey
from reelhouse.runtime import Runtime
from reelhouse.wire.errors import ApiError, is_uuid

LEEWAY_SECONDS = 5  # clock skew tolerated on exp, nbf and iat between the token minter and this server

CACHED_ROWS = 10_000  # playback IDs (with a token's key) whose rows one process keeps; past that it starts over
Row = tuple[PlaybackId, Media, SigningKey | None]

_public_keys: dict[str, RSAPublicKey] = {}  # signing key id -> parsed key; ids are never reused


_remembered: Remembered[tuple[str, str | None], Row | None] = Remembered(CACHED_ROWS)


@dataclass(frozen=True)
class Grant:
    """A request allowed to play `media` through `playback`; `token` is carried into playlist URIs."""

    media: Media
    playback: PlaybackId
    token: str | None

    @property
    def shareable(self) -> bool:
        """Whether a shared cache (a CDN) may keep the answer: only when anyone, anywhere, may play it."""
        rules = (self.playback.domains or {}, self.playback.user_agents or {})
        open_rules = all(r.get("defaultPolicy", "allow") == "allow" and not r.get("deny") for r in rules)
        return self.playback.access_policy == "public" and open_rules


def not_found() -> ApiError:
    return ApiError(404, "Not found", "No such playback ID or file.")


def forbidden(description: str) -> ApiError:
    return ApiError(403, "Forbidden", description)


def forget_key(key_id: str) -> None:
    """Drops a deleted signing key's parsed form (the database lookup already refuses it)."""
    _public_keys.pop(key_id, None)


def cached(rt: Runtime, playback_id: str, request: Request) -> bool:
    """Whether `authorize` would answer from the cache, with no I/O to wait for."""
    token = request.query_params.get("token")
    rows = _cache(rt)
    return rows is not None and (playback_id, _key_id(token) if token else None) in rows


async def authorized(rt: Runtime, playback_id: str, request: Request) -> Grant:
    """`authorize` for async handlers: on the event loop when the rows are cached, else in a worker thread, so a
    segment served from the cache costs no thread hop."""
    if cached(rt, playback_id, request):
        return authorize(rt, playback_id, request)
    return await run_in_threadpool(authorize, rt, playback_id, request)


def authorize(rt: Runtime, playback_id: str, request: Request) -> Grant:
    """404 for unknown, malformed or deleted playback IDs; 403 when the policy refuses this request."""
    if not is_uuid(playback_id):
        raise not_found()
    token = request.query_params.get("token")
    key_id = _key_id(token) if token else None
    row = _rows(rt, playback_id, key_id)
    if row is None:
        raise not_found()
    playback, media, key = row
    if not domain_permits(playback.domains, request.headers.get("origin") or request.headers.get("referer")):
        raise forbidden("This playback ID does not play on this site.")
    if not _permits(playback.user_agents, request.headers.get("user-agent"), _agent_matches):
        raise forbidden("This playback ID does not play in this client.")
    if playback.access_policy == "public":
        return Grant(media, playback, None)
    if token is None:
        raise forbidden("This playback ID is private; a signed token is required.")
    if key is None:
        raise forbidden("The token is malformed, or its signing key is unknown or deleted.")
    try:
        jwt.decode(
            token,
            _public_key(key),
            algorithms=["RS256"],
            audience=f"media:{playback.id}",
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "aud"]},
        )
    except jwt.InvalidTokenError as exc:
        raise forbidden(f"The token is not valid for this playback ID: {exc}.") from None
    return Grant(media, playback, token)


def _rows(rt: Runtime, playback_id: str, key_id: str | None) -> Row | None:
    """The playback ID, its media (renditions and downloads loaded) and the token's signing key when it is the
    media's workspace's. From the cache when nothing watched changed since it was read: the count is read before the
    rows, so rows read while a change commits are tagged with the count that change replaces."""
    cached = _cache(rt)
    if cached is None:
        return _query(rt, playback_id, key_id)
    try:
        return cached[(playback_id, key_id)]
    except KeyError:
        row = cached[(playback_id, key_id)] = _query(rt, playback_id, key_id)  # misses are cached too
        return row


def _cache(rt: Runtime) -> dict[tuple[str, str | None], Row | None] | None:
    """The rows read since the last change; None where the database keeps no change count."""
    return _remembered.current(rt.db.generation)


def _query(rt: Runtime, playback_id: str, key_id: str | None) -> Row | None:
    with rt.db.read() as session:
        row = session.execute(
            select(PlaybackId, Media, SigningKey)
            .join(Media, Media.id == PlaybackId.media_id)
            .outerjoin(SigningKey, and_(SigningKey.id == key_id, SigningKey.workspace_id == Media.workspace_id))
            .where(PlaybackId.id == playback_id)
            .options(joinedload(Media.renditions), selectinload(Media.downloads))
        ).unique().first()
    return None if row is None else (row[0], row[1], row[2])


def _key_id(token: str) -> str | None:
    """The signing key a token names, in its header (standard) or its claims (FastPix's documented payload)."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        if kid is None:
            kid = jwt.decode(token, options={"verify_signature": False}).get("kid")
    except jwt.InvalidTokenError:
        return None
    return kid if isinstance(kid, str) and is_uuid(kid) else None


def domain_permits(rules: dict[str, Any], page: str | None) -> bool:
    """Whether domain `rules` let the page at URL `page` (`Origin` on cross-site fetches, else `Referer`) play."""
    try:
        host = urlsplit(page).hostname if page else None
    except ValueError:  # a malformed header names no site
        host = None
    return _permits(rules, normalise_host(host) if host else None, _host_matches)


@functools.lru_cache(maxsize=4096)
def normalise_host(host: str) -> str | None:
    """One spelling per host, so no rule can be dodged by another: lower case, no trailing dot (`evil.com.` is
    `evil.com`), internationalised names in their ASCII (punycode) form. None for what is no valid host name."""
    host = host.strip().rstrip(".").lower()
    if host.isascii():
        return host or None
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        return None


def _public_key(key: SigningKey) -> RSAPublicKey:
    parsed = _public_keys.get(key.id)
    if parsed is None:
        # only RSA keys are ever created
        parsed = _public_keys[key.id] = cast(RSAPublicKey, load_pem_public_key(key.public_key.encode()))
    return parsed


def _permits(rules: dict[str, Any], value: str | None, matches: Callable[[str, str], bool]) -> bool:
    """Deny entries win, then allow entries; anything else, a missing header included, gets `defaultPolicy`."""
    if value:
        if any(matches(value, pattern) for pattern in rules.get("deny", ())):
            return False
        if any(matches(value, pattern) for pattern in rules.get("allow", ())):
            return True
    return rules.get("defaultPolicy", "allow") == "allow"


def _host_matches(host: str, pattern: str) -> bool:
    """`example.com` is that host only; `*.example.com` is any host under it (not the apex)."""
    wildcard = pattern.startswith("*.")
    normalised = normalise_host(pattern[2:] if wildcard else pattern)
    if normalised is None:
        return False
    return host.endswith("." + normalised) if wildcard else host == normalised


def _agent_matches(agent: str, pattern: str) -> bool:
    return pattern.lower() in agent.lower()
