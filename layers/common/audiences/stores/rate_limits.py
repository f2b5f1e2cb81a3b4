"""Request counters per tenant, endpoint and minute, shared by every container: one UpdateItem each."""

from __future__ import annotations

from audiences.stores.models import RateCounter


def count_request(tenant_id: str, endpoint: str, window_start: int, expires_at: int) -> int:
    """Count one more request in the window and return how many it now holds, this one included.

    `ADD` is atomic, so concurrent containers never lose or double a count; DynamoDB removes the
    counter by TTL once `expires_at` has passed.
    """
    counter = RateCounter(f"{tenant_id}#{endpoint}", str(window_start))
    counter.update(
        actions=[RateCounter.consumed.add(1), RateCounter.expires_at.set(expires_at)],
    )
    return int(counter.consumed)
