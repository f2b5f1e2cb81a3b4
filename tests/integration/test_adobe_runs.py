"""Adobe's runs: the import pipeline reading the source files uploaded within a window, all or nothing."""

from __future__ import annotations

import gzip
import json
import time

import boto3
import pytest

from local.gateway import respond
from local.provision import REGION
from tests.conftest import PLAN
from tests.integration.imports_helpers import drain
from tests.integration.test_adobe_api import Adobe, request

FIELDS = [{"name": "email", "type": "string", "identityNs": "Email"}, {"name": "tier", "type": "string"}]


@pytest.fixture
def adobe(api, demo) -> Adobe:
    return Adobe(api, demo["DEMO_PRIVATE_KEY"])


def new_audience(adobe: Adobe, name: str = "Drops", folder: str = "drops") -> str:
    body = request(
        name=name, customAudienceId=name.lower(), fields=FIELDS, sourceSpec={"path": folder, "type": "folder"}
    )
    return adobe.create(**{k: v for k, v in body.items() if k not in ("name", "description")} | {"name": name})[
        "operationId"
    ]


def put_source(name: str, text: str, folder: str = "drops", gzipped: bool = False) -> None:
    data = gzip.compress(text.encode()) if gzipped else text.encode()
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=PLAN.names["ImportsBucket"], Key=f"demo/sources/adobe/prod/{folder}/{name}", Body=data
    )


def run(adobe: Adobe, audience_id: str, start: int, **window) -> dict:
    status, started = adobe.call(
        "POST", f"/external-audience/{audience_id}/runs", {"dataFilterStartTime": start, **window}
    )
    assert status == 200, started
    return started


def finished(functions, adobe: Adobe, audience_id: str, run_id: str) -> dict:
    drain(functions)
    status, got = adobe.call("GET", f"/external-audience/{audience_id}/runs/{run_id}")
    assert status == 200, got
    return got


BY_EMAIL = "query($email: String) {customer(email: $email) {audiences {edges {node {name}}}}}"


def qualified(api, demo, email: str) -> list[str]:
    """The audiences ODP's GraphQL says the user is in ([] when it knows nothing of the user)."""
    query = {"query": BY_EMAIL, "variables": {"email": email}}
    body = api.call("POST", "/v3/graphql", query, key=demo["DEMO_PUBLIC_KEY"]).body
    customer = (body.get("data") or {}).get("customer")
    return [edge["node"]["name"] for edge in customer["audiences"]["edges"]] if customer else []


def test_a_run_reads_every_file_of_its_window_and_a_second_run_applies_the_difference(api, demo, functions, adobe):
    audience_id = new_audience(adobe)
    start = int(time.time())
    put_source("a.csv", "email,tier\na@x.com,gold\nb@x.com,\n")
    put_source("b.csv.gz", "tier,email\r\n,c@x.com\r\n,a@x.com\r\n", gzipped=True)
    started = run(adobe, audience_id, start)
    assert (started["status"], started["differentialIngestion"]) == ("PROCESSING", False)
    first = finished(functions, adobe, audience_id, started["runId"])
    assert first["status"] == "SUCCESS", first
    assert first["counts"] == {"rows": 4, "qualified": 3, "disqualified": 0, "unchanged": 0}
    assert [d["status"] for d in first["details"]] == ["SUCCESS", "SUCCESS"]
    assert adobe.call("GET", f"/external-audience/{audience_id}")[1]["size"] == 3
    assert qualified(api, demo, "c@x.com") == ["drops"]

    time.sleep(1.1)  # S3 keeps whole seconds: the next files are in a later second than the first
    second_start = int(time.time())
    put_source("c.csv", "email,tier\na@x.com,gold\nd@x.com,silver\n")
    started = run(adobe, audience_id, second_start)
    assert started["differentialIngestion"] is True
    second = finished(functions, adobe, audience_id, started["runId"])
    assert second["counts"] == {"rows": 2, "qualified": 1, "disqualified": 2, "unchanged": 1}
    assert qualified(api, demo, "c@x.com") == [] and qualified(api, demo, "d@x.com") == ["drops"]
    assert adobe.call("GET", f"/external-audience/{audience_id}")[1]["size"] == 2


def test_one_bad_row_in_the_second_of_three_files_fails_the_run_and_changes_nothing(api, demo, functions, adobe):
    audience_id = new_audience(adobe)
    start = int(time.time())
    put_source("1.csv", "email,tier\na@x.com,\n")
    put_source("2.csv", "email,tier\nb@x.com,\n,gold\n")
    put_source("3.csv", "email,tier\nc@x.com,\n")
    got = finished(functions, adobe, audience_id, run(adobe, audience_id, start)["runId"])
    assert got["status"] == "FAILED"
    assert got["errors"] == [{"file": "2.csv", "line": 3, "reason": "email (the identity field) is empty"}]
    assert got["errorCount"] == 1 and got["counts"]["rows"] == 4
    assert adobe.call("GET", f"/external-audience/{audience_id}")[1]["size"] == 0
    assert qualified(api, demo, "a@x.com") == []


def test_a_file_whose_header_is_wrong_fails_the_run_naming_the_file(functions, adobe):
    audience_id = new_audience(adobe)
    start = int(time.time())
    put_source("bad.csv", "mail,tier\na@x.com,\n")
    got = finished(functions, adobe, audience_id, run(adobe, audience_id, start)["runId"])
    assert got["status"] == "FAILED" and got["message"].startswith("bad.csv: line 1: the header must name")


def test_a_window_with_no_file_fails_saying_so(functions, adobe):
    audience_id = new_audience(adobe)
    put_source("old.csv", "email,tier\na@x.com,\n")
    future = int(time.time()) + 3600
    got = finished(
        functions, adobe, audience_id, run(adobe, audience_id, future, dataFilterEndTime=future + 60)["runId"]
    )
    assert got["status"] == "FAILED" and got["message"].startswith("no file was uploaded to ")


def test_one_run_at_a_time_per_audience(functions, adobe):
    audience_id = new_audience(adobe)
    run(adobe, audience_id, 0)
    status, error = adobe.call("POST", f"/external-audience/{audience_id}/runs", {"dataFilterStartTime": 0})
    assert (status, error["report"]["errorCode"]) == (409, "100950-409")
    assert "in progress" in error["detail"]
    drain(functions)
    run(adobe, audience_id, 0)  # free again once the first ended


def test_ten_runs_per_audience_a_day_then_429_with_retry_after(api, demo, functions, adobe):
    audience_id = new_audience(adobe)
    for _ in range(10):
        run(adobe, audience_id, 0)
        drain(functions)
    status, headers, body = respond(
        api.router,
        "POST",
        f"/data/core/ais/external-audience/{audience_id}/runs",
        [(k.lower(), v) for k, v in adobe.headers.items()],
        b'{"dataFilterStartTime": 0}',
    )
    assert (status, json.loads(body)["title"]) == (429, "TOO_MANY_REQUESTS")
    assert 0 < int(dict(headers)["Retry-After"]) <= 86_400
    other = new_audience(adobe, name="Other", folder="other")
    run(adobe, other, 0)  # the limit is per audience (and 100 per sandbox)


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
    from audiences.stores import rate_limits as rate_limit_store

    audience_id = new_audience(adobe)
    day = int(time.time() // DAY_SECONDS) * DAY_SECONDS
    for _ in range(RUNS_PER_SANDBOX_PER_DAY):  # the sandbox's other audiences started their runs today
        rate_limit_store.count_request("demo", "adobe:runs:prod", day, day + 2 * DAY_SECONDS)
    status, error = start_status(api, adobe, audience_id)
    assert status == 429 and f"limit of {RUNS_PER_SANDBOX_PER_DAY} a day" in error["detail"]
    assert runs_counted(f"adobe:runs:prod:{audience_id}") == 0
    assert runs_counted("adobe:runs:prod") == RUNS_PER_SANDBOX_PER_DAY


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


def test_runs_of_another_sandbox_are_not_found_and_bad_windows_are_400(api, demo, adobe):
    audience_id = new_audience(adobe)
    dev = Adobe(api, demo["DEMO_PRIVATE_KEY"], sandbox="dev")
    assert dev.call("POST", f"/external-audience/{audience_id}/runs", {"dataFilterStartTime": 0})[0] == 404
    assert dev.call("GET", f"/external-audience/{audience_id}/runs")[0] == 404
    status, error = adobe.call(
        "POST", f"/external-audience/{audience_id}/runs", {"dataFilterStartTime": 10, "dataFilterEndTime": 5}
    )
    assert (status, error["report"]["details"][0]["field"]) == (400, "dataFilterEndTime")
    assert adobe.call("POST", f"/external-audience/{audience_id}/runs", {})[0] == 400
    assert adobe.call("GET", f"/external-audience/{audience_id}/runs/nope")[0] == 404


def test_a_dead_lettered_run_ends_failed_saying_why_and_frees_the_audience(functions, adobe):
    from tests.integration.imports_helpers import imports_poller

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
    from tests.integration.imports_helpers import imports_poller

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
    assert record["message"].endswith("ask for extend-ttl again to retry")
    shown = api.call("GET", "/console/api/activity", key=private).body["activity"]
    assert [(row["kind"], row["status"], row["message"]) for row in shown if row["kind"] != "run"] == [
        ("extend-ttl", "FAILED", record["message"])
    ]

    assert adobe.call("POST", f"/external-audience/extend-ttl/{audience_id}")[0] == 200  # the audience is free
    drain(functions)
    succeeded = api.call("GET", "/v3/imports?status=SUCCESS", key=private).body["imports"]
    again = next(r for r in succeeded if r["import_id"].startswith("reconfirm-"))
    assert (again["rows"], again["qualified"]) == (1, 1) and "re-confirmed" in again["message"]
