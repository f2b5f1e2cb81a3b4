"""Data expiry: answers leave expired members out at once; the sweep makes sizes exact, reading only who expired."""

from __future__ import annotations

from collections import Counter

import pytest

from audiences import expiry
from audiences.domain import DAY_SECONDS
from audiences.wiring import stores
from tests.aws_calls import AWS_FAULTS
from tests.rules.test_expiry import NOW, qualify, size, stored, ttl_audience


@pytest.mark.usefixtures("privacy_marks_cached")
def test_the_sweep_reads_only_who_expired(api, demo, adobe, aws_calls):
    ttl_audience(adobe)
    for n in range(3):
        qualify(api, demo, f"old{n}@x.com", NOW - 2 * DAY_SECONDS)
    for n in range(20):
        qualify(api, demo, f"new{n}@x.com", NOW)
    aws_calls.reset()
    assert expiry.sweep().expired == 3
    # the audiences with a TTL; the members due in each of the audience's index partitions (its 32 shards and
    # the unsharded key of earlier releases), read at once; one shared transaction for the expiries
    partitions = stores().memberships.INDEX_SHARDS + 1
    assert aws_calls.counts() == Counter({"dynamodb.Query": 1 + partitions, "dynamodb.TransactWriteItems": 1})
    assert len(aws_calls.threads_of("dynamodb.Query")) > 1


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_sweep_crashed_around_any_aws_call_and_run_again_is_exact(api, demo, adobe, when):
    for index in range(3):  # the two queries, then the expiries' transaction
        key = f"crash_{when}_{index}"
        audience_id = ttl_audience(adobe, key=key, folder=key)
        for n in range(3):
            qualify(api, demo, f"{n}@{key}", NOW - 2 * DAY_SECONDS, audience=key)
        qualify(api, demo, f"new@{key}", NOW, audience=key)
        AWS_FAULTS.arm(index, when)
        try:
            expiry.sweep()
        except Exception:
            pass
        finally:
            fired = AWS_FAULTS.fired
            AWS_FAULTS.disarm()
        assert fired, f"the crash {when} call {index} never happened"
        expiry.sweep()
        context = f"crash {when} call {index}"
        assert size(adobe, audience_id) == 1, context
        assert [stored(f"{n}@{key}", key) for n in range(3)] == [("disqualified", NOW - DAY_SECONDS)] * 3, context
        assert adobe.call("DELETE", f"/external-audience/{audience_id}")[0] == 204  # out of the next sweeps
