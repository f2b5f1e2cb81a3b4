"""A small time-bounded cache for what a warm container may reuse across invocations."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")

_all_caches: list[TTLCache] = []


class TTLCache(Generic[V]):
    def __init__(self, ttl_seconds: Callable[[], float], clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, V]] = {}
        _all_caches.append(self)

    def get_or_load(self, key: Hashable, load: Callable[[], V]) -> V:
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        value = load()
        self._entries[key] = (now + self._ttl_seconds(), value)
        return value

    def forget(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


def clear_all() -> None:
    """Forget everything cached, as a fresh container would (tests and the local stack)."""
    for cache in _all_caches:
        cache.clear()
