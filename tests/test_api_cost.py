"""What a request costs the database: verified credentials remembered (and forgotten on revocation), a list page a
fixed number of queries however many media it shows, one query to read a media."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, event, select
from sqlalchemy.orm import selectinload

from reelhouse.api.deps import Page
from reelhouse.api.media import list_media, read_media
from reelhouse.catalog.media import get_media, media_page_snapshot, media_snapshot
from reelhouse.db.engine import Database, migrated
from reelhouse.db.enums import DownloadStatus, InsightKind, InsightStatus, TrackStatus
from reelhouse.db.models import AccessToken, Download, Insight, Media, PlaybackId, Track, Upload, Workspace, utcnow
from reelhouse.runtime import Runtime
from reelhouse.settings import Settings
from reelhouse.testing import add_ready_media
from reelhouse.tokens import (
    REVOCATION_CHECK_SECONDS,
    VERIFIED_TTL_SECONDS,
    Credentials,
    create_token,
    revoke,
    workspace_named,
)
from reelhouse.wire import views
from reelhouse.wire.errors import ApiError
from tests.conftest import ON_POSTGRES


@contextmanager
def counted(sent: list[tuple[str, Any]] | None = None) -> Iterator[list[str]]:
    """The SQL statements sent while inside (no server runs here: nothing else queries); `sent` also gets their
    parameters."""
    statements: list[str] = []

    def record(_conn, _cursor, statement, parameters, *_args) -> None:  # type: ignore[no-untyped-def]
        if not statement.startswith("BEGIN"):  # SQLite's, sent by engine.py
            statements.append(statement)
            if sent is not None:
                sent.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", record)  # every engine: the database keeps more than one
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", record)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    with migrated(settings) as database:
        yield database


def new_token(db: Database, workspace: str = "Default") -> tuple[str, str, str]:
    with db.write() as session:
        token, secret = create_token(session, workspace=workspace)
        return token.id, secret, token.workspace_id


def revoke_elsewhere(settings: Settings, token_id: str) -> None:
    """As another process would: its own connection, its own commit."""
    with migrated(settings) as other, other.write() as session:
        assert revoke(session, token_id)


def test_a_verified_token_costs_no_query_until_the_revocation_check_is_due(db: Database) -> None:
    clock = Clock()
    credentials = Credentials(db, clock)
    token_id, secret, workspace = new_token(db)
    assert credentials.cached(token_id, secret) is None  # never verified: the caller asks the database
    with counted() as statements:
        assert credentials.verify(token_id, secret) == workspace
    assert statements  # read the revocation count and the token

    with counted() as statements:
        for _ in range(3):
            clock.now += REVOCATION_CHECK_SECONDS / 4
            assert credentials.cached(token_id, secret) == workspace
    assert statements == []
    assert credentials.cached(token_id, "wrong secret") is None
    assert credentials.verify(token_id, "wrong secret") is None

    clock.now += REVOCATION_CHECK_SECONDS
    assert credentials.cached(token_id, secret) is None  # due: `verify` reads the count again, then trusts it
    with counted() as statements:
        assert credentials.verify(token_id, secret) == workspace
    assert len(statements) == 1
    assert credentials.cached(token_id, secret) == workspace


def test_a_revocation_anywhere_is_seen_at_the_next_check(settings: Settings, db: Database) -> None:
    clock = Clock()
    credentials = Credentials(db, clock)
    (revoked_id, revoked_secret, _), (kept_id, kept_secret, workspace) = new_token(db), new_token(db, "Other")
    assert credentials.verify(revoked_id, revoked_secret) and credentials.verify(kept_id, kept_secret)

    revoke_elsewhere(settings, revoked_id)
    clock.now += REVOCATION_CHECK_SECONDS
    assert credentials.cached(revoked_id, revoked_secret) is None
    assert credentials.verify(revoked_id, revoked_secret) is None
    assert credentials.cached(revoked_id, revoked_secret) is None
    assert credentials.verify(kept_id, kept_secret) == workspace  # read again once, then remembered again
    assert credentials.cached(kept_id, kept_secret) == workspace


def test_a_token_revoked_through_this_process_is_refused_at_once(db: Database) -> None:
    credentials = Credentials(db, Clock())
    token_id, secret, _ = new_token(db)
    assert credentials.verify(token_id, secret)
    with db.write() as session:
        revoke(session, token_id)
    credentials.forget(token_id)
    assert credentials.cached(token_id, secret) is None
    assert credentials.verify(token_id, secret) is None


def test_a_verification_read_before_a_forget_is_not_remembered(db: Database) -> None:
    """A lookup that read the token just before it was revoked and forgotten must not put it back."""
    credentials = Credentials(db, Clock())
    token_id, secret, workspace = new_token(db)
    original = credentials._check_revocations

    def revoked_meanwhile(session):  # type: ignore[no-untyped-def]
        generation = original(session)
        credentials.forget(token_id)  # the revocation lands between this lookup's check and its answer
        return generation

    credentials._check_revocations = revoked_meanwhile  # type: ignore[method-assign]
    assert credentials.verify(token_id, secret) == workspace  # the row it read was still valid
    assert credentials.cached(token_id, secret) is None


def test_verified_tokens_are_read_again_after_their_ttl(db: Database) -> None:
    """Even with no revocation counted (a row deleted by hand, say) nothing is trusted for longer than the TTL."""
    clock = Clock()
    credentials = Credentials(db, clock)
    token_id, secret, workspace = new_token(db)
    started = clock.now
    assert credentials.verify(token_id, secret) == workspace
    with db.write() as session:
        session.execute(delete(AccessToken).where(AccessToken.id == token_id))

    clock.now = started + VERIFIED_TTL_SECONDS - REVOCATION_CHECK_SECONDS / 2
    other_id, other_secret, _ = new_token(db)
    assert credentials.verify(other_id, other_secret)  # the revocation check is fresh: it counted nothing new
    assert credentials.cached(token_id, secret) == workspace
    clock.now = started + VERIFIED_TTL_SECONDS
    assert credentials.cached(token_id, secret) is None
    assert credentials.verify(token_id, secret) is None


def shown(rt: Runtime, workspace: str, media_id: str) -> dict[str, Any]:
    """The media as GET media answers it."""
    return json.loads(asyncio.run(read_media(media_id, rt, workspace)).body)["data"]


def test_a_list_page_costs_the_same_few_queries_whatever_its_size(settings: Settings) -> None:
    rt = Runtime.open(settings)
    try:
        add_ready_media(rt.db, 60)
        with rt.db.read() as session:
            workspace = session.scalars(select(Workspace.id)).one()
        sizes = {}
        for limit in (1, 10, 50):
            with counted() as statements:
                page = asyncio.run(list_media(rt, workspace, Page(limit, 1, "desc")))
            assert len(page.data) == limit
            assert all(m.playback_ids and len(m.tracks) == 2 and m.mp4_support for m in page.data)
            sizes[limit] = len(statements)
        assert sizes[1] == sizes[10] == sizes[50] == 2, sizes  # the count; the page with all it shows

        for order in ("desc", "asc"):  # a page deep in the list walks the index, it does not sort the workspace
            sent: list[tuple[str, Any]] = []
            with counted(sent):
                deep = asyncio.run(list_media(rt, workspace, Page(10, 4, order)))
            assert [m.title for m in deep.data] == [f"clip {n}" for n in (range(29, 19, -1) if order == "desc" else range(30, 40))]
            assert deep.pagination.model_dump(by_alias=True) == {"totalRecords": 60, "currentOffset": 4, "offsetCount": 6}
            if rt.db.engine.dialect.name == "sqlite":
                statement, parameters = next((s, p) for s, p in sent if "LIMIT" in s and "FROM media" in s)
                with rt.db.engine.connect() as connection:
                    plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
                assert not any("TEMP B-TREE" in detail for detail in _page_query_plan(plan)), plan

        media_id = page.data[0].id
        with counted() as statements:
            assert shown(rt, workspace, media_id)["id"] == media_id
        assert len(statements) == 1
    finally:
        rt.close()


def _page_query_plan(plan: list[Any]) -> list[str]:
    """The steps of an EXPLAIN QUERY PLAN (id, parent, -, detail) under its subquery: the one that picks the page's
    ids. Sorting the page's few joined rows after it is cheap; sorting the workspace there is not."""
    subquery = next(row[0] for row in plan if "SUBQUERY" in row[-1])
    under, details = {subquery}, []
    for node, parent, _, detail in plan:
        if parent in under:
            under.add(node)
            details.append(detail)
    assert details, plan
    return details


def test_a_media_read_again_costs_no_query_until_something_it_shows_changes(settings: Settings) -> None:
    rt = Runtime.open(settings)
    try:
        add_ready_media(rt.db, 1)
        with rt.db.read() as session:
            workspace, media_id = session.execute(select(Media.workspace_id, Media.id)).one()
        first = shown(rt, workspace, media_id)
        with counted() as statements:
            assert shown(rt, workspace, media_id) == first
        shared = rt.db.generation is not None  # SQLite's change count; PostgreSQL reads every time
        assert len(statements) == (0 if shared else 1)
        with rt.db.write() as session:  # a track renamed, as PATCH track does: the media shows it at once
            session.scalars(select(Track).where(Track.media_id == media_id, Track.type == "audio")).one() \
                .language_name = "Renamed"
        assert "Renamed" in [t.get("languageName") for t in shown(rt, workspace, media_id)["tracks"]]
        with rt.db.write() as session:
            session.get(Media, media_id).title = "Retitled"
        assert shown(rt, workspace, media_id)["title"] == "Retitled"
    finally:
        rt.close()


def test_a_media_read_outside_a_session_shows_what_the_session_read_shows(db: Database) -> None:
    """GET media reads one statement outside any session (`media_snapshot`); PATCH and every other route render the
    media loaded through the ORM. A client must see the same object from both, whatever the media holds."""
    media_id = add_ready_media(db, 2)[0]
    with db.write() as session:
        row = session.get(Media, media_id)
        workspace = row.workspace_id
        row.upload = Upload(workspace_id=workspace, timeout=3600, expires_at=utcnow())
        session.flush()
        upload_id = row.upload_id  # FastPix also finds a media by the id of the direct upload that made it
        first = row.playback_ids[0].created_at
        row.playback_ids.append(PlaybackId(access_policy="private", domains={"defaultPolicy": "deny", "allow": ["a.io"]},
                                           user_agents={}, created_at=first - timedelta(seconds=5)))  # listed first
        row.tracks.append(Track(type="subtitle", position=9, language_code="fr", url="https://subs.example/fr.vtt",
                                status=TrackStatus.FAILED, error="not WebVTT"))
        row.tracks.append(Track(type="subtitle", position=3, language_code="en", closed_captions=True))  # generated
        row.downloads.append(Download(type="audioOnly", status=DownloadStatus.FAILED))
        row.mp4_support = "capped_4k,audioOnly"
        row.insights.append(Insight(kind=InsightKind.SUMMARY, status=InsightStatus.READY, data="A summary."))
        row.insights.append(Insight(kind=InsightKind.CHAPTERS))

    def through_the_orm() -> str:
        with db.read() as session:
            return views.media(get_media(session, workspace, media_id), "https://v.example").model_dump_json()

    shown = through_the_orm()
    for key in (media_id, upload_id):
        assert views.media(media_snapshot(db, workspace, key), "https://v.example").model_dump_json() == shown
    for newest_first in (True, False):  # listed, beside a plainer media, in either order
        listed, total = media_page_snapshot(db, workspace, 10, 0, newest_first)
        assert total == 2
        assert [views.media(m, "https://v.example").model_dump_json() for m in listed] == \
            [views.media(m, "https://v.example").model_dump_json() for m in through_the_orm_page(db, newest_first)]
        assert shown in [views.media(m, "https://v.example").model_dump_json() for m in listed]
    out = views.media(media_snapshot(db, workspace, media_id), "https://v.example")
    assert [p.access_policy for p in out.playback_ids] == ["private", "public"]
    assert [(t.type, t.language_code) for t in out.tracks] == [("video", None), ("audio", "und"), ("subtitle", "en"),
                                                              ("subtitle", "fr")]
    assert [s.language_code for s in out.generated_subtitles] == ["en"]
    assert out.summary is not None and out.summary.data == "A summary."
    with db.write() as session:
        other = workspace_named(session, "Other").id
    with pytest.raises(ApiError) as refused:
        media_snapshot(db, other, media_id)  # another workspace's media is not found, as by the ORM
    assert refused.value.status == 404


def through_the_orm_page(db: Database, newest_first: bool) -> list[Media]:
    """The first page of the default workspace's media as `Page.select` loads any list page through the ORM."""
    with db.read() as session:
        workspace = session.scalars(select(Workspace.id).where(Workspace.name == "Default")).one()
        rows, _ = Page(10, 1, "desc" if newest_first else "asc").select(
            session, Media, Media.workspace_id == workspace, by=Media.created_at,
            options=[selectinload(r) for r in views.RENDERED])
        return list(rows)


@pytest.mark.skipif(not ON_POSTGRES, reason="a dropped server connection needs a database server: PostgreSQL")
def test_a_media_read_survives_the_database_dropping_its_connections(db: Database) -> None:
    """After PostgreSQL restarts (here: every other connection to it terminated), the first read on a pooled
    connection fails; the read is made again on a new connection and the client never sees it."""
    media_id = add_ready_media(db, 1)[0]
    with db.read() as session:
        workspace = session.get(Media, media_id).workspace_id
    assert media_snapshot(db, workspace, media_id).id == media_id  # the read's connection now waits in its pool
    with db.engine.connect() as connection:
        ended = connection.exec_driver_sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()").scalar()
    assert ended
    assert media_snapshot(db, workspace, media_id).id == media_id
