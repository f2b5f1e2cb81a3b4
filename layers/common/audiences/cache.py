"""Per-container caches: what a warm container may reuse across invocations, bounded in entries and in age.

A warm Lambda container lives for hours and serves whoever calls it, so nothing it remembers
may grow with what callers send: every cache holds at most `max_entries` (least recently used
dropped first) for at most its age (expired entries are dropped as others are added).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from cachetools import TLRUCache

V = TypeVar("V")

_all_caches: list[BoundedCache] = []


class BoundedCache(Generic[V]):
    """At most `max_entries` values, each kept for `max_age_seconds()` (read when it is stored)."""

    def __init__(
        self, max_entries: int, max_age_seconds: Callable[[], float], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_entries = max_entries
        self._max_age_seconds = max_age_seconds
        self._entries: TLRUCache[Hashable, V] = TLRUCache(max_entries, self._expires_at, timer=clock)
        self._lock = threading.Lock()  # cachetools is not thread-safe; a container's worker threads share it
        _all_caches.append(self)

    def _expires_at(self, _key: Hashable, _value: V, now: float) -> float:
        return now + self._max_age_seconds()

    def __len__(self) -> int:
        with self._lock:
            self._entries.expire()
            return len(self._entries)

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._entries[key] = value

    def get_or_load(self, key: Hashable, load: Callable[[], V]) -> V:
        """The cached value, or `load()`'s, kept. Loaded outside the lock: two threads may both load."""
        with self._lock:
            try:
                return self._entries[key]
            except KeyError:
                pass
        value = load()
        self.put(key, value)
        return value

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def clear_all() -> None:
    """Forget everything cached, as a fresh container would (tests and the local stack)."""
    for cache in _all_caches:
        cache.clear()
