"""Data expiry: a qualification in an audience with a TTL stops counting `ttl_days` after its ts.

Customer answers leave an expired qualification out at once (`memberships.customer_audiences`).
The sweep then applies each expiry as a disqualify at `ts + ttl` through the one write path, so
sizes are exact again and a newer qualification always wins over an older expiry. It reads only
what has expired: the audiences with a TTL (one index), and per audience the members qualified
before the cutoff (a key range of each of the audience's partitions of another, read at once).
An expiry applies only while the qualification it expires is still the one stored, so a crash
and a rerun, or a late event, never lose or double anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from aws_lambda_powertools import Logger

from audiences import memberships
from audiences.domain import MembershipChange, State, batched
from audiences.wiring import stores

logger = Logger(child=True)

BATCH = 500
RESERVE_SECONDS = 30  # stop at least this early: the next sweep goes on where this one stopped


@dataclass
class Sweep:
    audiences: int = 0  # with a TTL, visited
    expired: int = 0  # qualifications ended (a disqualify that applied)
    finished: bool = True  # False if time ran out first


def sweep(now: float | None = None, seconds_left: Callable[[], float] = lambda: float("inf")) -> Sweep:
    now = time.time() if now is None else now
    stop_below = max(RESERVE_SECONDS, seconds_left() / 2)  # a sweep takes at most half its invocation's time
    done = Sweep()
    for tenant_id, audience in stores().catalog.expiring_audiences():
        done.audiences += 1
        cutoff = now - audience.expires_at(0)
        for due in memberships.qualified_before(tenant_id, audience.external_id, cutoff):
            for batch in batched(due, BATCH):
                if seconds_left() < stop_below:
                    done.finished = False
                    return done
                expiry = audience.external_id, State.DISQUALIFIED
                changes = [MembershipChange(user, *expiry, audience.expires_at(ts), expires=ts) for user, ts in batch]
                done.expired += memberships.apply(tenant_id, changes).disqualified
    logger.info("expiry sweep", extra={"audiences": done.audiences, "expired": done.expired})
    return done
