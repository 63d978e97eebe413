"""The library at 10,000 media: every listing order, and the status filter, walks an index page by page instead
of sorting the whole workspace, and pagination covers every media exactly once. On SQLite, whose query plans
are stable and readable (EXPLAIN QUERY PLAN), whatever database the suite runs on."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text

from reelhouse.db.engine import Database, migrated
from reelhouse.db.enums import MediaStatus
from reelhouse.db.models import Media, Workspace, new_id, utcnow
from reelhouse.settings import Settings
from reelhouse.web.pages import PAGE_SIZE, library_filter, library_page

COUNT = 10_000


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Database, str]:
    settings = Settings(data_dir=Path(tmp_path_factory.mktemp("library")))
    with migrated(settings) as db:
        with db.write() as session:
            other = Workspace(name="Other")
            workspace = Workspace(name="Big")
            session.add_all([workspace, other])
            session.flush()
            start = utcnow()
            statuses = [MediaStatus.READY, MediaStatus.FAILED, MediaStatus.PROCESSING]
            for owner in (workspace.id, other.id):
                session.execute(insert(Media), [
                    {"id": new_id(), "workspace_id": owner, "title": f"clip {i:05d}", "status": statuses[i % 3],
                     "created_at": start + timedelta(seconds=i), "updated_at": start} for i in range(COUNT)])
            workspace_id = workspace.id
        yield db, workspace_id


def plan(db: Database, where: list, sort: str, p: int = 1) -> str:
    statement = library_page(where, sort, p)
    with db.read() as session:
        compiled = statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        rows = session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
    return " | ".join(row[-1] for row in rows)


@pytest.mark.parametrize(("sort", "status", "index"), [
    ("newest", "", "ix_media_workspace_created"),
    ("oldest", "", "ix_media_workspace_created"),
    ("title", "", "ix_media_workspace_title"),
    ("newest", "Ready", "ix_media_workspace_status_created"),
])
def test_each_order_walks_an_index_without_sorting(library: tuple[Database, str], sort: str, status: str,
                                                    index: str) -> None:
    db, workspace_id = library
    described = plan(db, library_filter(workspace_id, "", status), sort, p=200)
    assert index in described, described
    assert "TEMP B-TREE" not in described, described  # no sort of the workspace's 10,000 rows per page


def test_an_id_search_uses_the_primary_key(library: tuple[Database, str]) -> None:
    db, workspace_id = library
    with db.read() as session:
        media_id = session.scalar(select(Media.id).where(Media.workspace_id == workspace_id).limit(1))
        found = session.scalars(library_page(library_filter(workspace_id, media_id, ""), "newest", 1)).all()
    assert [m.id for m in found] == [media_id]


def test_pages_cover_the_workspace_once_in_order(library: tuple[Database, str]) -> None:
    db, workspace_id = library
    where = library_filter(workspace_id, "", "")
    with db.read() as session:
        total = session.scalar(select(func.count()).select_from(Media).where(*where))
        first, second = (session.scalars(library_page(where, "newest", p)).all() for p in (1, 2))
        last = session.scalars(library_page(where, "newest", COUNT // PAGE_SIZE)).all()
        beyond = session.scalars(library_page(where, "newest", COUNT // PAGE_SIZE + 1)).all()
        ready = session.scalar(select(func.count()).select_from(Media).where(*library_filter(workspace_id, "", "Ready")))
        titled = session.scalars(library_page(library_filter(workspace_id, "clip 0999", ""), "title", 1)).all()
    assert total == COUNT  # the other workspace's 10,000 never counted
    assert first[0].title == "clip 09999" and len(first) == len(second) == len(last) == PAGE_SIZE
    assert not {m.id for m in first} & {m.id for m in second}
    assert first[-1].created_at > second[0].created_at
    assert last[-1].title == "clip 00000" and beyond == []
    assert ready == COUNT // 3 + 1
    assert [m.title for m in titled] == [f"clip 0999{i}" for i in range(10)]
