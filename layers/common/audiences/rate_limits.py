"""Per-tenant, per-endpoint request limits per window (a minute, a day) that hold across every Lambda container.

Any dialect names its endpoints and their limits; each request is counted in DynamoDB, so a
limit holds however many containers serve the tenant. Two kinds:

- `consume`, a rate limit: every request counts, refused ones too, as Segment's do (one
  `UpdateItem`): a client that keeps calling past its limit stays refused until the window ends.
- `admitted`, a quota of things started: only what is admitted counts, against several limits
  at once, all or none (one transaction), so a client looping on a full limit spends nobody
  else's share.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from audiences.errors import RateLimited
from audiences.wiring import stores

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
    consumed = stores().rate_limits.count_request(tenant_id, endpoint, window_start, window_end + window_seconds)
    usage = Usage(limit, consumed, window_end, now)
    if usage.exceeded:
        raise RateLimited(usage)
    return usage


@contextmanager
def admitted(
    tenant_id: str, limits: Sequence[tuple[str, int]], window_seconds: int, now: float | None = None
) -> Iterator[None]:
    """Count one thing started against every (endpoint, limit), all or none, for the `with` block.

    RateLimited (the first full limit's usage, in the order given) if any is full, and nothing is
    counted; if the block raises, the count is taken back: only what was started counts.
    """
    now = time.time() if now is None else now
    window_start = int(now // window_seconds) * window_seconds
    window_end = window_start + window_seconds
    full = stores().rate_limits.count_within(tenant_id, limits, window_start, window_end + window_seconds)
    if full is not None:
        position, consumed = full
        raise RateLimited(Usage(limits[position][1], consumed, window_end, now))
    try:
        yield
    except BaseException:
        stores().rate_limits.uncount(tenant_id, [endpoint for endpoint, _ in limits], window_start)
        raise
