"""What each API call costs in AWS requests, counted at botocore, not estimated."""

from __future__ import annotations

from collections import Counter

from audiences import cache
from tests.integration.helpers import customer_query, event, segment

T = 1_748_851_070


def test_passthrough_events_cost_one_write_each_on_a_warm_container(api, demo, aws_calls):
    key = demo["DEMO_PUBLIC_KEY"]
    api.call("POST", "/v3/events", event("qualify", "warm-up", "vip", T), key=key)
    aws_calls.reset()
    batch = [event("qualify", f"u{i}", "vip", T) for i in range(20)] + [event("disqualify", "u0", "vip", T - 1)]
    assert api.call("POST", "/v3/events", batch, key=key).status == 202
    assert aws_calls.counts() == Counter({"dynamodb.UpdateItem": 21})


def test_a_cold_container_first_resolves_key_and_tenant(api, demo, aws_calls):
    cache.clear_all()
    aws_calls.reset()
    api.call("POST", "/v3/events", event("qualify", "u1", "vip", T), key=demo["DEMO_PUBLIC_KEY"])
    assert aws_calls.counts() == Counter({"dynamodb.GetItem": 2, "dynamodb.UpdateItem": 1})


def test_customer_query_costs_two_queries_and_no_per_audience_reads(api, demo, aws_calls):
    for number in range(5):
        api.call("PUT", f"/v3/segments/a{number}", segment(f"x{number}"), key=demo["DEMO_PRIVATE_KEY"])
    api.call("POST", "/v3/events", [event("qualify", "u1", f"x{n}", T) for n in range(5)], key=demo["DEMO_PUBLIC_KEY"])
    aws_calls.reset()
    reply = api.call("POST", "/v3/graphql", customer_query("u1"), key=demo["DEMO_PUBLIC_KEY"])
    assert len(reply.body["data"]["customer"]["audiences"]["edges"]) == 5
    assert aws_calls.counts() == Counter({"dynamodb.Query": 2})
