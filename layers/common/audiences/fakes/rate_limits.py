"""Request counters in memory."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence


class InMemoryRateLimits:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str, int]] = Counter()

    def count_request(self, tenant_id: str, endpoint: str, window_start: int, expires_at: int) -> int:
        with self._lock:
            self._counts[tenant_id, endpoint, window_start] += 1
            return self._counts[tenant_id, endpoint, window_start]

    def count_within(
        self, tenant_id: str, limits: Sequence[tuple[str, int]], window_start: int, expires_at: int
    ) -> tuple[int, int] | None:
        with self._lock:
            for position, (endpoint, limit) in enumerate(limits):
                if (count := self._counts[tenant_id, endpoint, window_start]) >= limit:
                    return position, count
            for endpoint, _ in limits:
                self._counts[tenant_id, endpoint, window_start] += 1
            return None

    def uncount(self, tenant_id: str, endpoints: Sequence[str], window_start: int) -> None:
        with self._lock:
            for endpoint in endpoints:
                self._counts[tenant_id, endpoint, window_start] -= 1
