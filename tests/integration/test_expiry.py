"""Data expiry: answers leave expired members out at once; the sweep makes sizes exact, reading only who expired."""

from __future__ import annotations

import time
from collections import Counter

import boto3
import pytest

from audiences import expiry, memberships
from audiences.domain import DAY_SECONDS, MembershipChange, State, UserRef
from audiences.stores import memberships as membership_store
from local.provision import REGION
from tests.aws_calls import AWS_FAULTS
from tests.conftest import PLAN
from tests.integration.helpers import event
from tests.integration.imports_helpers import drain
from tests.integration.test_adobe_api import Adobe, request

BY_EMAIL = "query($email: String) {customer(email: $email) {audiences {edges {node {name}}}}}"
NOW = time.time()


@pytest.fixture
def adobe(api, demo) -> Adobe:
    return Adobe(api, demo["DEMO_PRIVATE_KEY"])


def ttl_audience(adobe: Adobe, key: str = "expiring", ttl: int = 1, folder: str = "drops") -> str:
    fields = [{"name": "email", "type": "string", "identityNs": "email"}]
    body = request(
        name=key, customAudienceId=key, fields=fields, ttlInDays=ttl, sourceSpec={"path": folder, "type": "folder"}
    )
    return adobe.create(**body)["operationId"]


def qualify(api, demo, email: str, ts: float, audience: str = "expiring") -> None:
    sent = [event("qualify", email, audience, ts, field="email")]
    assert api.call("POST", "/v3/events", sent, key=demo["DEMO_PUBLIC_KEY"]).status == 202


def answered(api, demo, email: str) -> list[str]:
    query = {"query": BY_EMAIL, "variables": {"email": email}}
    body = api.call("POST", "/v3/graphql", query, key=demo["DEMO_PUBLIC_KEY"]).body
    customer = (body.get("data") or {}).get("customer")
    return [edge["node"]["name"] for edge in customer["audiences"]["edges"]] if customer else []


def size(adobe: Adobe, audience_id: str) -> int:
    return adobe.call("GET", f"/external-audience/{audience_id}")[1]["size"]


def stored(email: str, audience: str = "expiring") -> tuple[str, float]:
    state, ts = membership_store.user_memberships("demo", UserRef("email", email))[audience]
    return state.value, ts


def test_an_expired_member_leaves_answers_at_once_and_the_size_at_the_sweep(api, demo, adobe):
    audience_id = ttl_audience(adobe)
    old = NOW - 2 * DAY_SECONDS
    qualify(api, demo, "old@x.com", old)
    qualify(api, demo, "new@x.com", NOW - 60)
    assert answered(api, demo, "old@x.com") == [] and answered(api, demo, "new@x.com") == ["expiring"]
    assert size(adobe, audience_id) == 2  # not swept yet
    swept = expiry.sweep()
    assert (swept.audiences, swept.expired, swept.finished) == (1, 1, True)
    assert size(adobe, audience_id) == 1
    assert stored("old@x.com") == ("disqualified", old + DAY_SECONDS)  # as of the expiry, not the sweep
    assert expiry.sweep().expired == 0  # nothing left to expire
    qualify(api, demo, "old@x.com", NOW)  # a newer qualification wins over the older expiry
    assert answered(api, demo, "old@x.com") == ["expiring"] and size(adobe, audience_id) == 2


def test_audiences_without_a_ttl_never_expire(api, demo, adobe):
    api.call(
        "PUT",
        "/v3/segments/forever",
        {"definition": {"external": {"external_audience_id": "forever"}}},
        key=demo["DEMO_PRIVATE_KEY"],
    )
    qualify(api, demo, "a@x.com", 1_000, audience="forever")
    assert expiry.sweep().audiences == 0
    assert answered(api, demo, "a@x.com") == ["forever"]


def test_patching_the_ttl_re_times_members_not_yet_swept(api, demo, adobe):
    audience_id = ttl_audience(adobe)
    qualify(api, demo, "a@x.com", NOW - 2 * DAY_SECONDS)
    assert answered(api, demo, "a@x.com") == []
    assert adobe.call("PATCH", f"/external-audience/{audience_id}", {"ttlInDays": 3})[0] == 200
    assert answered(api, demo, "a@x.com") == ["expiring"]
    assert expiry.sweep().expired == 0
    assert adobe.call("PATCH", f"/external-audience/{audience_id}", {"ttlInDays": 1})[0] == 200
    assert answered(api, demo, "a@x.com") == [] and expiry.sweep().expired == 1


def test_an_expiry_never_ends_a_qualification_that_arrived_since_even_an_older_one(aws):
    user = UserRef("email", "late@x.com")
    memberships.apply("demo", [MembershipChange(user, "exp", State.QUALIFIED, 100.0)])
    memberships.apply(
        "demo", [MembershipChange(user, "exp", State.QUALIFIED, 150.0)]
    )  # arrives before the sweep writes
    result = memberships.apply(
        "demo", [MembershipChange(user, "exp", State.DISQUALIFIED, 100.0 + DAY_SECONDS, expires=100.0)]
    )
    assert (result.disqualified, result.stale) == (0, 1)
    assert stored("late@x.com", "exp") == ("qualified", 150.0)


def test_extend_ttl_re_confirms_the_last_runs_members_as_of_now(api, demo, functions, adobe):
    audience_id = ttl_audience(adobe)
    status, error = adobe.call("POST", f"/external-audience/extend-ttl/{audience_id}")
    assert (status, error["report"]["errorCode"]) == (422, "100960-422")
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=PLAN.names["ImportsBucket"], Key="demo/sources/adobe/prod/drops/a.csv", Body=b"email\na@x.com\nb@x.com\n"
    )
    drain(functions)
    assert adobe.call("POST", f"/external-audience/{audience_id}/runs", {"dataFilterStartTime": 0})[0] == 200
    drain(functions)
    run_ts = stored("a@x.com")[1]
    time.sleep(1.1)  # the extension is over a second later than the run
    before = time.time()
    status, answer = adobe.call("POST", f"/external-audience/extend-ttl/{audience_id}")
    assert (status, answer) == (200, {"audienceId": audience_id, "name": "expiring"})
    drain(functions)
    assert stored("a@x.com")[0] == "qualified" and stored("a@x.com")[1] >= before > run_ts
    assert stored("b@x.com")[1] >= before
    assert expiry.sweep(now=run_ts + DAY_SECONDS + 0.5).expired == 0  # due a day after the extension, not the run
    assert expiry.sweep(now=before + DAY_SECONDS + 60).expired == 2


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
    partitions = membership_store.INDEX_SHARDS + 1
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
