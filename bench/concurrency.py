"""Writers at once on one audience: conflicting changes from several threads, states and sizes exact."""

from __future__ import annotations

import random

from bench.harness import T, fresh_aws, timed
from local.aws_calls import AWS_CALLS


def bench_concurrency() -> dict:
    """8 threads writing conflicting changes to one audience's 200 users through the write path."""
    from concurrent.futures import ThreadPoolExecutor

    from audiences import memberships
    from audiences.domain import MembershipChange, State, UserRef
    from tests.model import expected, observed

    rng = random.Random(29)
    changes = [
        MembershipChange(
            UserRef("fs_user_id", f"u{rng.randrange(200)}"), "hot", rng.choice(list(State)), T + rng.randrange(50)
        )
        for _ in range(8000)
    ]
    batches = [changes[start : start + 50] for start in range(0, len(changes), 50)]
    with fresh_aws():
        AWS_CALLS.reset()
        with ThreadPoolExecutor(max_workers=8) as writers:
            seconds = timed(lambda: list(writers.map(lambda batch: memberships.apply("demo", batch), batches)))
        counts, errors = AWS_CALLS.counts(), dict(AWS_CALLS.errors)
        exact = observed("demo", changes) == expected(changes)
    assert exact, "concurrent writers left states or sizes that differ from the sequential model"
    cancelled = sum(n for (call_, code), n in errors.items() if code == "TransactionCanceledException")
    return {
        "threads": 8,
        "events": len(changes),
        "seconds": seconds,
        "events_per_second": len(changes) / seconds,
        "aws_requests_per_event": sum(counts.values()) / len(changes),
        "cancelled_transactions_per_event": cancelled / len(changes),
        "requests": dict(counts),
        "errors": {f"{call_} {code}": n for (call_, code), n in errors.items()},
        "sizes_exact": exact,
        "target": "throughput, conflicts and retries per event reported; sizes exact",
    }
