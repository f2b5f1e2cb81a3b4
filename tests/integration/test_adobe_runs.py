"""Adobe's runs: the import pipeline reading the source files uploaded within a window, all or nothing."""

from __future__ import annotations

import json
import time

import boto3

from audiences.wiring import stores
from local.gateway import respond
from local.provision import REGION
from tests.adobe_client import Adobe, new_audience, put_source, run
from tests.conftest import PLAN
from tests.imports_helpers import drain


def runs_counted(endpoint: str) -> int:
    """Runs counted today on a guardrail's counter, as the rate-limits table holds it."""
    from audiences.adobe.runs import DAY_SECONDS

    day = str(int(time.time() // DAY_SECONDS) * DAY_SECONDS)
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=PLAN.names["RateLimitsTable"], Key={"pk": {"S": f"demo#{endpoint}"}, "sk": {"S": day}}
    )
    return int(item.get("Item", {}).get("consumed", {"N": "0"})["N"])


def start_status(api, adobe: Adobe, audience_id: str) -> tuple[int, dict]:
    status, _, body = respond(
        api.router,
        "POST",
        f"/data/core/ais/external-audience/{audience_id}/runs",
        [(k.lower(), v) for k, v in adobe.headers.items()],
        b'{"dataFilterStartTime": 0}',
    )
    return status, json.loads(body)


def test_a_run_that_could_not_be_queued_is_not_counted(api, demo, functions, adobe):
    from tests.aws_calls import AWS_FAULTS

    audience_id = new_audience(adobe)
    AWS_FAULTS.arm(0, "before", operation="SendMessage")
    try:
        status, _ = start_status(api, adobe, audience_id)
        fired = AWS_FAULTS.fired
    finally:
        AWS_FAULTS.disarm()
    assert status == 500 and fired
    assert runs_counted(f"adobe:runs:prod:{audience_id}") == 0 and runs_counted("adobe:runs:prod") == 0
    run(adobe, audience_id, 0)  # and the audience is free


def test_a_dead_lettered_run_ends_failed_saying_why_and_frees_the_audience(functions, adobe):
    from tests.imports_helpers import imports_poller

    audience_id = new_audience(adobe)
    drain(functions)  # S3's test event of the new bucket notification
    started = run(adobe, audience_id, 0)
    poller = imports_poller(functions)
    [message] = poller.sqs.receive_message(QueueUrl=poller.queue_url, AttributeNames=["All"])["Messages"]
    result = functions["ImportsGiveUpFunction"].invoke(
        {"Records": [poller.event_record(message)]}
    )  # every attempt died
    assert result == {"batchItemFailures": []}, result
    got = adobe.call("GET", f"/external-audience/{audience_id}/runs/{started['runId']}")[1]
    assert got["status"] == "FAILED"
    assert got["message"].startswith("given up after 10 attempts (last failure: none reported")
    assert got["message"].endswith("start a new run to retry")
    assert run(adobe, audience_id, 0)["status"] == "PROCESSING"  # the audience is free for the next run
    functions["ImportsFunction"].invoke({"Records": [poller.event_record(message)]})  # a late delivery
    assert adobe.call("GET", f"/external-audience/{audience_id}/runs/{started['runId']}")[1]["status"] == "FAILED"


def test_a_dead_lettered_extend_ttl_is_recorded_failed_saying_why_and_can_be_asked_again(api, demo, functions, adobe):
    from tests.imports_helpers import imports_poller

    audience_id = new_audience(adobe)
    put_source("a.csv", "email,tier\na@x.com,gold\n")
    drain(functions)
    run(adobe, audience_id, 0)
    drain(functions)
    assert adobe.call("POST", f"/external-audience/extend-ttl/{audience_id}")[0] == 200
    poller = imports_poller(functions)
    [message] = poller.sqs.receive_message(QueueUrl=poller.queue_url, AttributeNames=["All"])["Messages"]
    assert functions["ImportsGiveUpFunction"].invoke({"Records": [poller.event_record(message)]}) == {
        "batchItemFailures": []
    }  # every attempt died

    private = demo["DEMO_PRIVATE_KEY"]
    [record] = api.call("GET", "/v3/imports?status=FAILED", key=private).body["imports"]
    assert record["import_id"].startswith("reconfirm-drops-") and record["audience"] == "drops"
    assert record["message"].startswith("given up after 10 attempts (last failure: none reported")
    assert record["message"].endswith("ask for the re-confirmation again to retry")
    shown = api.call("GET", "/console/api/activity", key=private).body["activity"]
    assert [(row["kind"], row["status"], row["message"]) for row in shown if row["kind"] != "run"] == [
        ("extend-ttl", "FAILED", record["message"])
    ]

    assert adobe.call("POST", f"/external-audience/extend-ttl/{audience_id}")[0] == 200  # the audience is free
    drain(functions)
    succeeded = api.call("GET", "/v3/imports?status=SUCCESS", key=private).body["imports"]
    again = next(r for r in succeeded if r["import_id"].startswith("reconfirm-"))
    assert (again["rows"], again["qualified"]) == (1, 1) and "re-confirmed" in again["message"]


def test_a_client_looping_on_a_full_audience_spends_none_of_the_sandboxs_runs(api, demo, functions, adobe):
    full, other = new_audience(adobe), new_audience(adobe, name="Other", folder="other")
    for _ in range(10):
        run(adobe, full, 0)
        drain(functions)
    for _ in range(50):  # a client retrying in a loop
        status, error = start_status(api, adobe, full)
        assert status == 429 and "limit of 10 a day (10 started today)" in error["detail"]
    assert runs_counted(f"adobe:runs:prod:{full}") == 10 and runs_counted("adobe:runs:prod") == 10
    run(adobe, other, 0)  # everybody else's runs are untouched
    assert runs_counted("adobe:runs:prod") == 11


def test_a_full_sandbox_refuses_a_run_and_leaves_the_audiences_count_as_it_was(api, demo, functions, adobe):
    from audiences.adobe.runs import DAY_SECONDS, RUNS_PER_SANDBOX_PER_DAY

    audience_id = new_audience(adobe)
    day = int(time.time() // DAY_SECONDS) * DAY_SECONDS
    for _ in range(RUNS_PER_SANDBOX_PER_DAY):  # the sandbox's other audiences started their runs today
        stores().rate_limits.count_request("demo", "adobe:runs:prod", day, day + 2 * DAY_SECONDS)
    status, error = start_status(api, adobe, audience_id)
    assert status == 429 and f"limit of {RUNS_PER_SANDBOX_PER_DAY} a day" in error["detail"]
    assert runs_counted(f"adobe:runs:prod:{audience_id}") == 0
    assert runs_counted("adobe:runs:prod") == RUNS_PER_SANDBOX_PER_DAY


def test_listing_runs_pages_sorts_and_filters(functions, adobe):
    audience_id = new_audience(adobe)
    ids = []
    for _ in range(3):
        ids.append(run(adobe, audience_id, 0)["runId"])
        drain(functions)
    status, listed = adobe.call("GET", f"/external-audience/{audience_id}/runs?limit=2")
    assert status == 200
    assert [r["runId"] for r in listed["runs"]] == ids[::-1][:2]
    assert listed["_page"] == {"limit": 2, "count": 2, "totalCount": 3}
    oldest = adobe.call("GET", f"/external-audience/{audience_id}/runs?sortBy=createdAt&start=1")[1]
    assert [r["runId"] for r in oldest["runs"]] == ids[1:]
    failed = adobe.call("GET", f"/external-audience/{audience_id}/runs?property=status=FAILED")[1]
    assert failed["_page"]["totalCount"] == 3  # no files: every run failed
    none = adobe.call("GET", f"/external-audience/{audience_id}/runs?property=status=SUCCESS")[1]
    assert none["runs"] == [] and none["_page"]["totalCount"] == 0
    status, error = adobe.call("GET", f"/external-audience/{audience_id}/runs?limit=41&property=colour=red")
    assert (status, {d["field"] for d in error["report"]["details"]}) == (400, {"limit", "property"})
