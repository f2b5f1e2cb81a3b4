"""Data expiry: answers leave expired members out at once; the sweep makes sizes exact, reading only who expired."""

from __future__ import annotations

import time

from audiences import expiry, memberships
from audiences.domain import DAY_SECONDS, MembershipChange, State, UserRef
from audiences.wiring import stores
from tests.adobe_client import Adobe, request
from tests.imports_helpers import drain, upload
from tests.integration.helpers import event

BY_EMAIL = "query($email: String) {customer(email: $email) {audiences {edges {node {name}}}}}"
NOW = time.time()


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
    state, ts = stores().memberships.user_memberships("demo", UserRef("email", email))[audience]
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


def test_an_expiry_never_ends_a_qualification_that_arrived_since_even_an_older_one(memory):
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
    upload(b"email\na@x.com\nb@x.com\n", "demo/sources/adobe/prod/drops/a.csv")
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
