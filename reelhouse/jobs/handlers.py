"""Which code runs each kind of job. A new pipeline step is one entry here."""

from reelhouse.jobs import ingest
from reelhouse.jobs.worker import Handler

HANDLERS: dict[str, Handler] = {
    "ingest": Handler(ingest.run, ingest.give_up),
}
