"""POST /v3/graphql through the GraphQL handler on moto."""

from __future__ import annotations

import pytest

from tests.integration.helpers import customer_query, event
from tests.rules.test_graphql import T, query, send, setup_audiences


def test_each_audiences_field_keeps_its_own_subset_of_one_read(api, demo, aws_calls):
    setup_audiences(api, demo, ("vip_users", "vip"), ("churn_risk", "churn"), ("newsletter", "news"))
    send(api, demo, *(event("qualify", "u1", ext, T) for ext in ("vip", "churn", "news")))
    query(api, demo, customer_query("u1"))  # loads the catalog copy
    aws_calls.reset()
    body = query(
        api,
        demo,
        {
            "query": 'query($v: [String]) {customer(fs_user_id: "u1") {a: audiences(subset: $v) {edges {node {name}}} '
            'b: audiences(subset: ["churn_risk", null]) {edges {node {name}}}}}',
            "variables": {"v": ["vip_users", "newsletter"]},
        },
    )
    customer = body["data"]["customer"]
    assert [edge["node"]["name"] for edge in customer["a"]["edges"]] == ["newsletter", "vip_users"]
    assert [edge["node"]["name"] for edge in customer["b"]["edges"]] == ["churn_risk"]
    assert aws_calls.counts() == {"dynamodb.BatchGetItem": 1}  # the union of the subsets


@pytest.mark.parametrize(
    "text",
    [
        'query($s: [String]) {customer(fs_user_id: "u1") {...F}} '
        "fragment F on Customer {audiences(subset: $s) {edges {node {name}}}}",
        'query($s: [String]) {customer(fs_user_id: "u1") '
        "{audiences(subset: $s) {edges {node {name}}} all: audiences {edges {node {name}}}}}",
    ],
    ids=["fragment", "a field without a subset"],
)
def test_what_the_look_ahead_cannot_bound_reads_the_whole_partition(api, demo, aws_calls, text):
    setup_audiences(api, demo, ("vip_users", "vip"), ("churn_risk", "churn"))
    send(api, demo, event("qualify", "u1", "vip", T), event("qualify", "u1", "churn", T))
    query(api, demo, customer_query("u1"))  # loads the catalog copy
    aws_calls.reset()
    body = query(api, demo, {"query": text, "variables": {"s": ["vip_users"]}})
    assert "errors" not in body, body
    customer = body["data"]["customer"]
    assert [edge["node"]["name"] for edge in customer["audiences"]["edges"]] == ["vip_users"]
    assert aws_calls.counts() == {"dynamodb.Query": 1}
