"""Request counters per tenant, endpoint and window, shared by every container."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class RateLimitStore(Protocol):
    def count_request(self, tenant_id: str, endpoint: str, window_start: int, expires_at: int) -> int:
        """Count one more request in the window and return how many it now holds, this one included."""
        ...

    def count_within(
        self, tenant_id: str, limits: Sequence[tuple[str, int]], window_start: int, expires_at: int
    ) -> tuple[int, int] | None:
        """Count one request on every (endpoint, limit) if each is below its limit, else on none. None if counted;
        else the first full one's position in `limits` and its count."""
        ...

    def uncount(self, tenant_id: str, endpoints: Sequence[str], window_start: int) -> None:
        """Take back one request counted on each endpoint."""
        ...
