"""Log lines as text or as JSON objects (`REELHOUSE_LOG_FORMAT`), each carrying the request and job it was written
for, so a log collector can follow one request or one job across processes and machines."""

from __future__ import annotations

import logging
from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
job_id: ContextVar[str | None] = ContextVar("job_id", default=None)

TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(job_id)s"


class _Ids(logging.Filter):
    """Puts the current request id and job id on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.job_id = job_id.get()
        return True


def configure(log_format: str) -> None:
    """Sends INFO and above to stderr in the chosen format, replacing whatever handlers were there."""
    # Neither format names the source line, thread or process of a record; looking them up cost every line (each
    # request's access line among them) a walk up the stack and three more calls, as the logging HOWTO's
    # "Optimization" section says.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler()
    handler.addFilter(_Ids())
    if log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(JsonFormatter(JSON_FIELDS, rename_fields={"asctime": "time", "levelname": "level"}))
    else:
        handler.setFormatter(logging.Formatter(TEXT))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
