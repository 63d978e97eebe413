"""Failed authentications counted in a sliding window, so nobody can guess secrets at the speed of the network.

Counts live in the process: each API process (`serve --processes N`) counts its own, so a client may get up to N
times the limit before every process refuses it.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

MAX_KEYS = 100_000  # far more clients than are ever failing at once; bounds memory when ids are made up freely


class FailureThrottle:
    """At most `limit` failures per key (a client address, a token id) in any `window` seconds."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, *keys: str) -> int | None:
        """Whole seconds until every key may try again, or None when none of them is over its limit."""
        now = self.clock()
        with self._lock:
            waits = [self._wait(key, now) for key in keys]
        longest = max(waits, default=0.0)
        return max(1, math.ceil(longest)) if longest > 0 else None

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) >= MAX_KEYS:
                self._forget_expired(now)
            for key in keys:
                if len(self._failures) >= MAX_KEYS and key not in self._failures:
                    del self._failures[next(iter(self._failures))]  # the oldest key: still bounded under a flood
                self._failures.setdefault(key, deque()).append(now)

    def _wait(self, key: str, now: float) -> float:
        failures = self._failures.get(key)
        if failures is None:
            return 0.0
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return 0.0
        if len(failures) < self.limit:
            return 0.0
        # Allowed again once enough of the failures have left the window to get under the limit.
        return failures[len(failures) - self.limit] + self.window - now

    def _forget_expired(self, now: float) -> None:
        for key in list(self._failures):
            self._wait(key, now)
