"""The long-lived pieces one process needs — settings, database, storage, job queue, dispatcher — built once and
shared by the API, the job steps and the delivery worker."""

from __future__ import annotations

from dataclasses import dataclass

from reelhouse.db.engine import Database, open_database
from reelhouse.jobs.dispatch import Dispatcher, Wakeups
from reelhouse.jobs.queue import JobQueue
from reelhouse.net.fetch import AddressPolicy
from reelhouse.settings import Settings
from reelhouse.storage import Storage, open_storage
from reelhouse.storage.metered import Metered
from reelhouse.tokens import Credentials
from reelhouse.upload_urls import UrlSigner, load_or_create_secret


@dataclass
class Runtime:
    settings: Settings
    db: Database
    storage: Storage
    jobs: JobQueue
    wakeups: Wakeups  # what this process's job and delivery threads wait on between polls
    dispatcher: Dispatcher  # work committed in `db` is handed to it: `wakeups` itself, or a distributed dispatcher
    upload_urls: UrlSigner
    address_policy: AddressPolicy  # what pulls, track URLs and webhooks may reach
    credentials: Credentials  # access tokens this process has verified

    @classmethod
    def open(cls, settings: Settings, *, storage: Storage | None = None, dispatcher: Dispatcher | None = None) -> Runtime:
        """Creates the data directory and brings the schema up to date. `storage` replaces the configured backend
        (tests run the server on the in-memory one); `dispatcher` replaces the embedded one (Celery's)."""
        wakeups = Wakeups()
        dispatcher = dispatcher or wakeups
        db = open_database(settings, on_commit=dispatcher)
        settings.scratch_dir.mkdir(parents=True, exist_ok=True)
        signer = UrlSigner(load_or_create_secret(db, "upload-url-key"), settings.base_url)
        storage = Metered(storage or open_storage(settings))
        return cls(settings, db, storage, JobQueue(db, settings), wakeups, dispatcher, signer,
                   AddressPolicy.of(settings), Credentials(db))

    def close(self) -> None:
        self.db.dispose()
