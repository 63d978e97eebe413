"""Retry policy in the shape of the FastPix SDK family: `RetryConfig("backoff", BackoffStrategy(...))`.

Intervals are milliseconds, as in the seed's SDKs. What is retried: connection errors (when
`retry_connection_errors`), 408, 429 and 5xx; a 429 or 503 with `Retry-After` waits what the server asked.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class BackoffStrategy:
    initial_interval: int = 500
    max_interval: int = 60_000
    exponent: float = 1.5
    max_elapsed_time: int = 3_600_000

    def __post_init__(self) -> None:
        if min(self.initial_interval, self.max_interval, self.max_elapsed_time) < 0 or self.exponent < 1:
            raise ValueError("BackoffStrategy: intervals must be >= 0 ms and the exponent >= 1")

    def delay(self, attempt: int) -> float:
        """Seconds to sleep before retry number `attempt` (0-based): exponential, capped, with full jitter
        on the top half so many clients do not retry in step."""
        ceiling = min(self.initial_interval * self.exponent**attempt, self.max_interval) / 1000
        return ceiling / 2 + random.uniform(0, ceiling / 2)


@dataclass(frozen=True)
class RetryConfig:
    strategy: str = "backoff"
    backoff: BackoffStrategy | None = None
    retry_connection_errors: bool = True

    def __post_init__(self) -> None:
        if self.strategy not in ("backoff", "none"):
            raise ValueError(f"RetryConfig strategy must be 'backoff' or 'none', not {self.strategy!r}")
        if self.backoff is not None and not isinstance(self.backoff, BackoffStrategy):
            raise TypeError("RetryConfig backoff must be a BackoffStrategy")

    @property
    def enabled(self) -> bool:
        return self.strategy == "backoff"

    @property
    def policy(self) -> BackoffStrategy:
        return self.backoff or BackoffStrategy()


DEFAULT_RETRIES = RetryConfig("backoff", BackoffStrategy(500, 10_000, 2.0, 60_000), retry_connection_errors=True)
NO_RETRIES = RetryConfig("none")


def retry_after(value: str | None, cap: float) -> float | None:
    """Seconds from a `Retry-After` header (delta seconds or an HTTP date), capped; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), cap)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(max((when - datetime.now(UTC)).total_seconds(), 0.0), cap)
