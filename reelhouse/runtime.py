"""The long-lived pieces one process needs — settings, database, storage, job queue, dispatcher — built once and
shared by the API, the job steps and the delivery worker."""

from __future__ import annotations

from dataclasses import dataclass

from reelhouse.db.engine import Database, open_database
from reelhouse.jobs.dispatch import Wakeups
from reelhouse.jobs.queue import JobQueue
from reelhouse.net.fetch import AddressPolicy
from reelhouse.settings import Settings
from reelhouse.storage import Storage, open_storage
from reelhouse.upload_urls import UrlSigner, load_or_create_secret


@dataclass
class Runtime:
    settings: Settings
    db: Database
    storage: Storage
    jobs: JobQueue
    dispatcher: Wakeups  # the embedded dispatcher; work committed in `db` is handed to it
    upload_urls: UrlSigner
    address_policy: AddressPolicy  # what pulls, track URLs and webhooks may reach

    @classmethod
    def open(cls, settings: Settings, *, storage: Storage | None = None) -> Runtime:
        """Creates the data directory and brings the schema up to date. `storage` replaces the configured backend
        (tests run the server on the in-memory one)."""
        dispatcher = Wakeups()
        db = open_database(settings, on_commit=dispatcher)
        settings.scratch_dir.mkdir(parents=True, exist_ok=True)
        signer = UrlSigner(load_or_create_secret(db, "upload-url-key"), settings.base_url)
        storage = storage or open_storage(settings)
        return cls(settings, db, storage, JobQueue(db, settings), dispatcher, signer, AddressPolicy.of(settings))

    def close(self) -> None:
        self.db.dispose()
