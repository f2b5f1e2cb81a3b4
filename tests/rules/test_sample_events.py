"""Every sample in events/ runs through its function, as `make invoke` and `sam local invoke` would."""

from __future__ import annotations

import json
from string import Template

import pytest

from audiences.wiring import stores
from local.template import ROOT

EXPECTED_STATUS = {
    "ingest-qualify.json": 202,
    "ingest-batch.json": 202,
    "ingest-invalid.json": 400,
    "ingest-forbidden.json": 403,
    "segments-put.json": 200,
    "segments-put-invalid.json": 400,
    "graphql-customer.json": 200,
    "tracking-batch.json": 200,
    "tracking-unauthorized.json": 401,
}
FUNCTION_OF = {
    "ingest": "IngestFunction",
    "segments": "SegmentsFunction",
    "graphql": "GraphqlFunction",
    "tracking": "TrackingFunction",
}


def load(name: str, keys: dict[str, str]) -> dict:
    return json.loads(Template((ROOT / "events" / name).read_text()).safe_substitute(keys))


def test_every_api_sample_has_an_expectation():
    samples = {path.name for path in (ROOT / "events").glob("*.json") if not path.name.startswith("imports-")}
    assert samples == set(EXPECTED_STATUS)


@pytest.mark.parametrize("name", sorted(EXPECTED_STATUS))
def test_api_sample_answers_as_documented(functions, demo, name):
    function = functions[FUNCTION_OF[name.split("-")[0]]]
    result = function.invoke(load(name, demo))
    assert result["statusCode"] == EXPECTED_STATUS[name], result["body"]
    json.loads(result["body"])


def test_sample_sequence_makes_the_customer_visible(functions, demo):
    functions["SegmentsFunction"].invoke(load("segments-put.json", demo))
    functions["IngestFunction"].invoke(load("ingest-qualify.json", demo))
    result = functions["GraphqlFunction"].invoke(load("graphql-customer.json", demo))
    edges = json.loads(result["body"])["data"]["customer"]["audiences"]["edges"]
    assert edges == [{"node": {"name": "vip_users", "state": "qualified"}}]


def test_the_tracking_sample_makes_the_customer_visible_too(functions, demo):
    functions["SegmentsFunction"].invoke(load("segments-put.json", demo))
    functions["TrackingFunction"].invoke(load("tracking-batch.json", demo))
    result = functions["GraphqlFunction"].invoke(load("graphql-customer.json", demo))
    edges = json.loads(result["body"])["data"]["customer"]["audiences"]["edges"]
    assert edges == [{"node": {"name": "vip_users", "state": "qualified"}}]


def test_the_imports_sample_runs_and_records_what_happened(functions, demo):
    from audiences.domain import ImportStatus

    functions["SegmentsFunction"].invoke(load("segments-put.json", demo))
    result = functions["ImportsFunction"].invoke(load("imports-object-created.json", demo))
    assert result == {"batchItemFailures": []}
    [record] = stores().imports.page("demo", "vip_users", None, None, 10)[0]
    assert record.status is ImportStatus.SKIPPED  # the sample's object is not in the bucket
