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
    def open(cls, settings: Settings) -> Runtime:
        """Creates the data directory and brings the schema up to date."""
        db = open_database(settings)
        settings.scratch_dir.mkdir(parents=True, exist_ok=True)
        signer = UrlSigner(load_or_create_secret(db, "upload-url-key"), settings.base_url)
        return cls(settings, db, LocalStorage(settings.objects_dir), JobQueue(db, settings), signer)

    def close(self) -> None:
        self.db.dispose()
