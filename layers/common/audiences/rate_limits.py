"""Per-tenant, per-endpoint request limits per window (a minute, a day) that hold across every Lambda container.

Any dialect names its endpoints and their limits; each request is counted in DynamoDB (one
`UpdateItem`), so a limit holds however many containers serve the tenant. Refused requests
count too, as Segment's do: a client that keeps calling past its limit stays refused until
the window ends.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from audiences.errors import RateLimited
from audiences.stores import rate_limits as rate_limit_store

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Usage:
    """Where a tenant stands against one endpoint's limit in the current window."""

    limit: int
    consumed: int  # this request included
    window_end: float  # epoch seconds
    now: float

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.consumed)

    @property
    def exceeded(self) -> bool:
        return self.consumed > self.limit

    @property
    def ms_before_next(self) -> int:
        return max(0, round((self.window_end - self.now) * 1000))

    @property
    def reset_at(self) -> datetime:
        return datetime.fromtimestamp(self.window_end, UTC)


def consume(
    tenant_id: str, endpoint: str, limit: int, now: float | None = None, window_seconds: int = WINDOW_SECONDS
) -> Usage:
    """Count this request; RateLimited (carrying the usage) if it is over the limit, else the usage.

    Windows start on multiples of `window_seconds` since the epoch (on the minute; a day at 00:00 UTC).
    """
    now = time.time() if now is None else now
    window_start = int(now // window_seconds) * window_seconds
    window_end = window_start + window_seconds
    consumed = rate_limit_store.count_request(tenant_id, endpoint, window_start, window_end + window_seconds)
    usage = Usage(limit, consumed, window_end, now)
    if usage.exceeded:
        raise RateLimited(usage)
    return usage
