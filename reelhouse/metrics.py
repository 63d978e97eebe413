"""Prometheus metrics, defined once for the API, the workers and storage.

`serve --processes N` gives each process a share of one `PROMETHEUS_MULTIPROC_DIR`, so `/metrics` on any of them
adds up every process's counters and histograms. The job counts by kind and status are read from the database at
scrape time (the rows are the truth), by the API's /metrics alone.
"""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
SLOW = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)  # jobs and webhook lag: seconds to an hour

REQUEST_SECONDS = Histogram(
    "reelhouse_http_request_duration_seconds", "HTTP requests by method, route template and status",
    ["method", "route", "status"],
)
JOB_SECONDS = Histogram(
    "reelhouse_job_duration_seconds", "Job runs by kind and outcome (done, retry, failed, superseded)", ["kind", "outcome"],
    buckets=SLOW,
)
WEBHOOK_LAG_SECONDS = Histogram(
    "reelhouse_webhook_delivery_lag_seconds", "From an event to its delivery's 2xx answer", buckets=SLOW,
)
WEBHOOK_FAILURES = Counter(
    "reelhouse_webhook_failures_total", "Webhook delivery attempts that failed, and deliveries given up (final)",
    ["final"],
)
STORAGE_ERRORS = Counter(
    "reelhouse_storage_errors_total", "Storage operations that failed in the backend itself (not a missing object)",
    ["operation"],
)


def exposition() -> bytes:
    """This process's metrics in Prometheus' text format, or every process's under a multiprocess directory."""
    if MULTIPROCESS_DIR in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)
