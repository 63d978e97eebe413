"""The long-lived pieces one process needs — settings, database, storage, job queue — built once and shared."""

from __future__ import annotations

from dataclasses import dataclass

from reelhouse.db.engine import Database, open_database
from reelhouse.jobs.queue import JobQueue
from reelhouse.settings import Settings
from reelhouse.storage import LocalStorage, Storage
from reelhouse.uploads.signing import UrlSigner, load_or_create_secret


@dataclass
class Runtime:
    settings: Settings
    db: Database
    storage: Storage
    jobs: JobQueue
    upload_urls: UrlSigner

    @classmethod
    def open(cls, settings: Settings, *, storage: Storage | None = None) -> Runtime:
        """Creates the data directory and brings the schema up to date. `storage` replaces the configured backend
        (tests run the server on the in-memory one)."""
        db = open_database(settings)
        settings.scratch_dir.mkdir(parents=True, exist_ok=True)
        signer = UrlSigner(load_or_create_secret(db, "upload-url-key"), settings.base_url)
        storage = storage or LocalStorage(settings.objects_dir)
        return cls(settings, db, storage, JobQueue(db, settings), signer)

    def close(self) -> None:
        self.db.dispose()
