"""Request counters per tenant, endpoint and window, shared by every container: one write each."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from audiences.stores import clients
from audiences.stores.models import RateCounter

_CONFLICT_ATTEMPTS = 6  # two admissions on one shared counter (a sandbox's) at once: one is cancelled
_BASE_BACKOFF_SECONDS = 0.02


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


def count_within(
    tenant_id: str, limits: Sequence[tuple[str, int]], window_start: int, expires_at: int
) -> tuple[int, int] | None:
    """Count one request on every (endpoint, limit) if each is below its limit, else on none: one
    transaction. None if counted; else the first full one's position in `limits` and its count."""
    for attempt in range(_CONFLICT_ATTEMPTS):
        try:
            with TransactWrite(connection=clients.dynamodb()) as transaction:
                for endpoint, limit in limits:
                    transaction.update(
                        RateCounter(f"{tenant_id}#{endpoint}", str(window_start)),
                        actions=[RateCounter.consumed.add(1), RateCounter.expires_at.set(expires_at)],
                        condition=RateCounter.consumed.does_not_exist() | (RateCounter.consumed < limit),
                        return_values="ALL_OLD",
                    )
            return None
        except TransactWriteError as error:
            reasons = error.cancellation_reasons or []
            for position, reason in enumerate(reasons):
                if reason is not None and reason.code == "ConditionalCheckFailed":
                    return position, int(reason.raw_item["consumed"]["N"])
            if attempt + 1 == _CONFLICT_ATTEMPTS or not any(
                reason is not None and reason.code == "TransactionConflict" for reason in reasons
            ):
                raise
            time.sleep(random.uniform(0, _BASE_BACKOFF_SECONDS * 2**attempt))
    raise AssertionError("unreachable")


def uncount(tenant_id: str, endpoints: Sequence[str], window_start: int) -> None:
    """Take back one request counted on each endpoint (what `count_within` admitted and then could not use)."""
    with TransactWrite(connection=clients.dynamodb()) as transaction:
        for endpoint in endpoints:
            transaction.update(
                RateCounter(f"{tenant_id}#{endpoint}", str(window_start)), actions=[RateCounter.consumed.add(-1)]
            )
