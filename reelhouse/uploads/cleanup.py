"""Housekeeping in `serve`: upload URLs that expire unfinished leave committed parts behind, which nothing else
would ever remove; the sweeper thread also runs the other chores it is given (`jobs.reconcile`, expired
idempotency keys)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import timedelta

from sqlalchemy import select

from reelhouse.db.enums import UploadStatus
from reelhouse.db.models import Upload, utcnow
from reelhouse.runtime import Runtime
from reelhouse.storage.keys import upload_prefix

log = logging.getLogger(__name__)

GRACE = timedelta(hours=1)  # a chunk still in flight when the URL expired may commit a little later


def sweep_expired(rt: Runtime) -> int:
    """Drops the stored parts of uploads whose URL expired over an hour ago; returns how many it swept.
    The rows stay, so the upload still lists as `timed_out`."""
    with rt.db.write() as session:
        expired = session.scalars(
            select(Upload).where(Upload.status == UploadStatus.WAITING, Upload.committed > 0, Upload.expires_at < utcnow() - GRACE)
        ).all()
        for upload in expired:
            upload.committed, upload.total_size, upload.parts = 0, None, []
        swept = [u.id for u in expired]
    for upload_id in swept:
        rt.storage.delete_prefix(upload_prefix(upload_id))
    if swept:
        log.info("removed the parts of %d expired uploads", len(swept))
    return len(swept)


Chore = Callable[[Runtime], int]


class Sweeper:
    """Runs housekeeping `chores` (by default `sweep_expired`) at start and every `interval` seconds, in a background
    thread of `serve`; each returns how many things it fixed."""

    def __init__(self, rt: Runtime, interval: float = 600.0, chores: Sequence[Chore] = (sweep_expired,)) -> None:
        self._rt = rt
        self._interval = interval
        self._chores = chores
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reelhouse-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _loop(self) -> None:
        while True:
            for chore in self._chores:
                try:
                    chore(self._rt)
                except Exception:
                    log.exception("housekeeping %s failed", chore.__name__)
            if self._stop.wait(self._interval):
                return
