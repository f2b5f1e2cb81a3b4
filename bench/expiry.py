"""The expiry sweep of one TTL audience, against bare writes of exactly the expiries."""

from __future__ import annotations

import time

import boto3

from bench import aws_model
from bench.harness import fresh_aws, key_heat, lww_update, timed
from local import provision
from local.aws_calls import AWS_CALLS
from local.key_heat import KEY_HEAT


def bench_expiry_sweep() -> dict:
    """A sweep of one TTL audience of 10,000 members, 1,000 of them expired, on moto."""
    from audiences import expiry, memberships
    from audiences.domain import DAY_SECONDS, OPERATOR, Audience, MembershipChange, State, UserRef
    from audiences.stores import catalog as catalog_store

    now = time.time()
    with fresh_aws():
        catalog_store.create_audience("demo", Audience("ttl_aud", "ttl", ttl_days=1), OPERATOR)
        changes = [
            MembershipChange(
                UserRef("email", f"u{n}@x.com"), "ttl", State.QUALIFIED, now - (2 if n < 1000 else 0) * DAY_SECONDS
            )
            for n in range(10_000)
        ]
        for start in range(0, len(changes), 500):
            memberships.apply("demo", changes[start : start + 500])
        for n in range(1000):  # the baseline's copy of the expired members
            lww_update(
                boto3.client("dynamodb", region_name=provision.REGION),
                f"base#email#u{n}@x.com",
                "ttl",
                "qualified",
                now - 2 * DAY_SECONDS,
            )
        expiry.sweep(now=now - 2 * DAY_SECONDS)  # a warm container: its threads have their clients already
        AWS_CALLS.reset()
        KEY_HEAT.reset()
        started = time.perf_counter()
        with AWS_CALLS.invocation("ExpirySweepFunction") as invocation:
            swept = expiry.sweep(now=now)
        ours = time.perf_counter() - started
        counts = AWS_CALLS.counts()
        heat = key_heat(swept.expired)
        assert swept.expired == 1000, swept
        dynamodb = boto3.client("dynamodb", region_name=provision.REGION)

        def baseline():
            for n in range(1000):
                lww_update(dynamodb, f"base#email#u{n}@x.com", "ttl", "disqualified", now - DAY_SECONDS)

        base = timed(baseline)
    return {
        "members": 10_000,
        "expired": swept.expired,
        "ours_seconds": ours,
        "baseline_seconds": base,
        "ratio": ours / base,
        "aws_requests_per_expired": sum(counts.values()) / swept.expired,
        "requests": dict(counts),
        "chain": {
            "sequential_calls": aws_model.sequential_calls(invocation),
            "modeled_aws_seconds": aws_model.chain_seconds(invocation),
        },
        "key_heat": heat,
        "target": "ratio <= 1.3; requests grow with the members expired, not the audience",
    }
