"""Library page benchmark: one page of a 10,000-media workspace (next to another of 10,000), with the library
indexes of migration 0014 and without them (the baseline: only the workspace_id index), side by side.

Run:  .venv/bin/python bench/library.py [--media 10000] [--repeat 50]   (SQLite in a temporary folder)

Each query is what the dashboard's library runs for one page (count + page rows): newest first at page 1 and at
page 200, filtered to Ready, and sorted by title. Median milliseconds of --repeat runs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text

from reelhouse.db.engine import Database, migrated
from reelhouse.db.enums import MediaStatus
from reelhouse.db.models import Media, Workspace, new_id, utcnow
from reelhouse.settings import Settings
from reelhouse.web.pages import library_filter, library_page

INDEXES = ("ix_media_workspace_created", "ix_media_workspace_status_created", "ix_media_workspace_title")
CASES = {"newest p1": ("", "newest", 1), "newest p200": ("", "newest", 200), "Ready p50": ("Ready", "newest", 50),
         "title p100": ("", "title", 100)}


def fill(db: Database, count: int) -> str:
    with db.write() as session:
        workspaces = [Workspace(name="Big"), Workspace(name="Other")]
        session.add_all(workspaces)
        session.flush()
        start, statuses = utcnow(), [MediaStatus.READY, MediaStatus.FAILED, MediaStatus.PROCESSING]
        for owner in workspaces:
            session.execute(insert(Media), [
                {"id": new_id(), "workspace_id": owner.id, "title": f"clip {(i * 7919) % count:05d}",
                 "status": statuses[i % 3], "created_at": start + timedelta(seconds=i), "updated_at": start}
                for i in range(count)])
        return workspaces[0].id


def measure(db: Database, workspace_id: str, repeat: int) -> dict[str, float]:
    results = {}
    for name, (status, sort, page) in CASES.items():
        where = library_filter(workspace_id, "", status)
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            with db.read() as session:
                session.scalar(select(func.count()).select_from(Media).where(*where))
                session.scalars(library_page(where, sort, page)).all()
            times.append((time.perf_counter() - began) * 1000)
        results[name] = statistics.median(times)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, migrated(Settings(data_dir=Path(folder))) as db:
        workspace_id = fill(db, args.media)
        indexed = measure(db, workspace_id, args.repeat)
        with db.write() as session:
            for index in INDEXES:
                session.execute(text(f"DROP INDEX {index}"))
        baseline = measure(db, workspace_id, args.repeat)
    print(f"{args.media} media per workspace, median of {args.repeat} (ms): count + one page of 25")
    print(f"{'case':<14}{'baseline':>10}{'indexed':>10}")
    for name in CASES:
        print(f"{name:<14}{baseline[name]:>10.2f}{indexed[name]:>10.2f}")


if __name__ == "__main__":
    main()
