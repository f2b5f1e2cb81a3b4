"""Adobe's runs: the import pipeline reading the source files uploaded within a window, all or nothing."""

from __future__ import annotations

import json
import time

from local.gateway import respond
from tests.adobe_client import Adobe, new_audience, put_source, run
from tests.imports_helpers import drain


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
    assert first["counts"] == {"rows": 4, "qualified": 3, "disqualified": 0, "unchanged": 0, "suppressed": 0}
    assert [d["status"] for d in first["details"]] == ["SUCCESS", "SUCCESS"]
    assert adobe.call("GET", f"/external-audience/{audience_id}")[1]["size"] == 3
    assert qualified(api, demo, "c@x.com") == ["drops"]

    time.sleep(1.1)  # S3 keeps whole seconds: the next files are in a later second than the first
    second_start = int(time.time())
    put_source("c.csv", "email,tier\na@x.com,gold\nd@x.com,silver\n")
    started = run(adobe, audience_id, second_start)
    assert started["differentialIngestion"] is True
    second = finished(functions, adobe, audience_id, started["runId"])
    assert second["counts"] == {"rows": 2, "qualified": 1, "disqualified": 2, "unchanged": 1, "suppressed": 0}
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
    assert got["errors"] == [{"file": "2.csv", "line": 3, "reason": "column `email` (the identity field) is empty"}]
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
