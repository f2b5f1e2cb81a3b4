"""What each API call costs in AWS requests, counted at botocore, not estimated."""

from __future__ import annotations

from collections import Counter

import pytest

from audiences import cache
from audiences.domain import OPERATOR, Audience
from audiences.stores import catalog as catalog_store
from tests.integration.helpers import audience_names, customer_query, entered, event, exited, segment, tracking_post

T = 1_748_851_070
TRANSACT, ARCHIVE = "dynamodb.TransactWriteItems", "firehose.PutRecordBatch"


pytestmark = pytest.mark.usefixtures("privacy_marks_cached")


def upload(api, demo, aws_calls, batch) -> Counter:
    aws_calls.reset()
    assert api.call("POST", "/v3/events", batch, key=demo["DEMO_PUBLIC_KEY"]).status == 202
    return aws_calls.counts()


def test_joining_and_leaving_share_transactions_plus_one_archive_request(api, demo, aws_calls):
    upload(api, demo, aws_calls, event("qualify", "warm-up", "vip", T))
    joins = [event("qualify", f"u{i}", "vip", T) for i in range(20)]
    assert upload(api, demo, aws_calls, joins) == Counter({TRANSACT: 1, ARCHIVE: 1})
    leaves = [event("disqualify", f"u{i}", "vip", T + 1) for i in range(5)]
    assert upload(api, demo, aws_calls, leaves) == Counter({TRANSACT: 1, ARCHIVE: 1})
    many = [event("qualify", f"m{i}", f"aud{i % 50}", T) for i in range(500)]  # the most one upload holds
    counts = upload(api, demo, aws_calls, many)
    assert counts[TRANSACT] <= 10 and counts[ARCHIVE] == 1


def test_a_single_join_is_one_transaction_of_two_items(api, demo, aws_calls):
    upload(api, demo, aws_calls, event("qualify", "warm-up", "vip", T))
    assert upload(api, demo, aws_calls, event("qualify", "u1", "vip", T)) == Counter({TRANSACT: 1, ARCHIVE: 1})
    assert aws_calls.items_per_request(TRANSACT) == [2]  # the membership and its shard


def test_changes_that_move_no_size_cost_two_requests_and_stale_ones_one(api, demo, aws_calls):
    upload(api, demo, aws_calls, event("qualify", "u1", "vip", T))
    requalify = upload(api, demo, aws_calls, event("qualify", "u1", "vip", T + 5))
    assert requalify == Counter({TRANSACT: 1, "dynamodb.UpdateItem": 1, ARCHIVE: 1})
    stale = upload(api, demo, aws_calls, event("disqualify", "u1", "vip", T))
    assert stale == Counter({TRANSACT: 1, ARCHIVE: 1})


def test_events_superseded_within_the_batch_cost_nothing(api, demo, aws_calls):
    upload(api, demo, aws_calls, event("qualify", "warm-up", "vip", T))
    batch = [event("qualify", "u1", "vip", T + n) for n in range(10)] + [event("disqualify", "u1", "vip", T - 1)]
    assert upload(api, demo, aws_calls, batch) == Counter({TRANSACT: 1, ARCHIVE: 1})


def test_a_cold_container_first_resolves_key_and_tenant(api, demo, aws_calls):
    cache.clear_all()
    counts = upload(api, demo, aws_calls, event("qualify", "u1", "vip", T))
    # the key, the tenant, and the tenant's privacy marks (one Query, none yet): kept AUTH/PRIVACY_CACHE_SECONDS
    assert counts == Counter({"dynamodb.GetItem": 2, "dynamodb.Query": 1, TRANSACT: 1, ARCHIVE: 1})


def test_a_warm_customer_query_is_exactly_one_dynamodb_request(api, demo, aws_calls):
    for number in range(5):
        api.call("PUT", f"/v3/segments/a{number}", segment(f"x{number}"), key=demo["DEMO_PRIVATE_KEY"])
    api.call("POST", "/v3/events", [event("qualify", "u1", f"x{n}", T) for n in range(5)], key=demo["DEMO_PUBLIC_KEY"])
    api.call("POST", "/v3/graphql", customer_query("u1"), key=demo["DEMO_PUBLIC_KEY"])  # warms the catalog copy
    aws_calls.reset()
    reply = api.call("POST", "/v3/graphql", customer_query("u1"), key=demo["DEMO_PUBLIC_KEY"])
    assert [edge["node"]["name"] for edge in reply.body["data"]["customer"]["audiences"]["edges"]] == [
        f"a{n}" for n in range(5)
    ]
    assert aws_calls.counts() == Counter({"dynamodb.Query": 1})


def test_a_warm_subset_query_reads_exactly_the_named_memberships(api, demo, aws_calls):
    public = demo["DEMO_PUBLIC_KEY"]
    for number in range(5):
        api.call("PUT", f"/v3/segments/a{number}", segment(f"x{number}"), key=demo["DEMO_PRIVATE_KEY"])
    api.call("POST", "/v3/events", [event("qualify", "u1", f"x{n}", T) for n in range(5)], key=public)
    subset = customer_query("u1", subset=["a1", "a2", "zz"])
    api.call("POST", "/v3/graphql", subset, key=public)  # the copy learns that no audience is "zz"
    aws_calls.reset()
    reply = api.call("POST", "/v3/graphql", subset, key=public)
    assert [edge["node"]["name"] for edge in reply.body["data"]["customer"]["audiences"]["edges"]] == ["a1", "a2"]
    assert aws_calls.counts() == Counter({"dynamodb.BatchGetItem": 1})


def test_an_audience_created_after_the_catalog_was_cached_costs_two_lookups_once(api, demo, aws_calls):
    public = demo["DEMO_PUBLIC_KEY"]
    api.call("POST", "/v3/events", event("qualify", "u1", "late", T), key=public)
    api.call("POST", "/v3/graphql", customer_query("u1"), key=public)  # catalog cached without "late"
    catalog_store.create_audience("demo", Audience("late_segment", "late"), OPERATOR)  # by another container
    aws_calls.reset()
    reply = api.call("POST", "/v3/graphql", customer_query("u1"), key=public)
    assert reply.body["data"]["customer"]["audiences"]["edges"][0]["node"]["name"] == "late_segment"
    assert aws_calls.counts() == Counter({"dynamodb.Query": 1, "dynamodb.BatchGetItem": 2})
    aws_calls.reset()
    api.call("POST", "/v3/graphql", customer_query("u1"), key=public)
    assert aws_calls.counts() == Counter({"dynamodb.Query": 1})


def test_a_change_made_in_this_container_is_answered_at_once_with_one_catalog_read(api, demo, aws_calls):
    key, public = demo["DEMO_PRIVATE_KEY"], demo["DEMO_PUBLIC_KEY"]
    api.call("PUT", "/v3/segments/vip_users", segment("vip"), key=key)
    api.call("POST", "/v3/events", event("qualify", "u1", "vip", T), key=public)
    api.call("POST", "/v3/graphql", customer_query("u1"), key=public)  # catalog cached
    api.call("DELETE", "/v3/segments/vip_users", key=key)
    aws_calls.reset()
    reply = api.call("POST", "/v3/graphql", customer_query("u1"), key=public)
    assert reply.body["data"]["customer"]["audiences"]["edges"] == []
    # the user's memberships, the catalog afresh, and the claim of the external id it no longer holds
    assert aws_calls.counts() == Counter({"dynamodb.Query": 2, "dynamodb.BatchGetItem": 1})


def test_memberships_no_audience_holds_cost_one_more_lookup(api, demo, aws_calls):
    api.call("POST", "/v3/events", event("qualify", "u1", "orphan", T), key=demo["DEMO_PUBLIC_KEY"])
    api.call("POST", "/v3/graphql", customer_query("u1"), key=demo["DEMO_PUBLIC_KEY"])
    aws_calls.reset()
    api.call("POST", "/v3/graphql", customer_query("u1"), key=demo["DEMO_PUBLIC_KEY"])
    assert aws_calls.counts() == Counter({"dynamodb.Query": 1, "dynamodb.BatchGetItem": 1})


def test_a_page_of_the_graphql_audiences_listing_is_one_query_and_a_batched_size_read(api, demo, aws_calls):
    for n in range(30):
        catalog_store.create_audience("demo", Audience(f"seg_{n:02}", f"ext_{n}"), OPERATOR)
    public = demo["DEMO_PUBLIC_KEY"]
    listing = {"query": "{audiences(first: 10) {edges {node {name size}} pageInfo {hasNextPage}}}"}
    api.call("POST", "/v3/graphql", listing, key=public)  # warm the key cache
    aws_calls.reset()
    reply = api.call("POST", "/v3/graphql", listing, key=public)
    assert len(reply.body["data"]["audiences"]["edges"]) == 10
    # 10 audiences x 16 size shards: two BatchGetItems of at most 100 keys
    assert aws_calls.counts() == Counter({"dynamodb.Query": 1, "dynamodb.BatchGetItem": 2})


def test_the_size_reads_of_a_page_are_sent_concurrently(api, demo, aws_calls):
    for n in range(60):
        catalog_store.create_audience("demo", Audience(f"seg_{n:02}", f"ext_{n}"), OPERATOR)
    listing = {"query": "{audiences(first: 60) {edges {node {size}}}}"}
    api.call("POST", "/v3/graphql", listing, key=demo["DEMO_PUBLIC_KEY"])  # warm the key cache
    aws_calls.reset()
    api.call("POST", "/v3/graphql", listing, key=demo["DEMO_PUBLIC_KEY"])
    assert aws_calls.counts()["dynamodb.BatchGetItem"] == 10  # 60 x 16 keys, 100 a request
    assert len(aws_calls.threads_of("dynamodb.BatchGetItem")) > 1


def test_a_subset_read_costs_the_same_however_many_audiences_the_user_is_in(api, demo, aws_calls):
    public = demo["DEMO_PUBLIC_KEY"]
    for n in range(120):
        catalog_store.create_audience("demo", Audience(f"seg_{n:03}", f"ext_{n}"), OPERATOR)
    api.call("POST", "/v3/events", [event("qualify", "u1", f"ext_{n}", T) for n in range(120)], key=public)
    subset = customer_query("u1", subset=["seg_007", "seg_100"])
    assert audience_names(api.call("POST", "/v3/graphql", subset, key=public).body) == ["seg_007", "seg_100"]
    aws_calls.reset()
    assert audience_names(api.call("POST", "/v3/graphql", subset, key=public).body) == ["seg_007", "seg_100"]
    assert aws_calls.counts() == Counter({"dynamodb.BatchGetItem": 1})


def test_a_subset_the_user_is_in_none_of_costs_one_more_single_key_query(api, demo, aws_calls):
    public = demo["DEMO_PUBLIC_KEY"]
    api.call("PUT", "/v3/segments/vip_users", segment("vip"), key=demo["DEMO_PRIVATE_KEY"])
    api.call("POST", "/v3/events", event("qualify", "u1", "other", T), key=public)
    api.call("POST", "/v3/graphql", customer_query("u1", subset=["vip_users"]), key=public)
    aws_calls.reset()
    reply = api.call("POST", "/v3/graphql", customer_query("u1", subset=["vip_users"]), key=public)
    assert audience_names(reply.body) == []  # known, but in none of them: not an unknown customer
    assert aws_calls.counts() == Counter({"dynamodb.BatchGetItem": 1, "dynamodb.Query": 1})


def tracking(api, demo, aws_calls, calls: list[dict]) -> Counter:
    """What one /v1/batch of Segment Tracking API calls costs."""
    aws_calls.reset()
    assert tracking_post(api, "/v1/batch", {"batch": calls}, demo["DEMO_PUBLIC_KEY"])[0] == 200
    return aws_calls.counts()


def test_a_warm_batch_of_engage_calls_costs_what_the_same_odp_events_do(api, demo, aws_calls):
    catalog_store.create_audience("demo", Audience("vip_users", "vip"), OPERATOR)
    cold = tracking(api, demo, aws_calls, [entered("warm-up", "vip_users", T)])
    # key and tenant, the catalog copy, and the privacy marks
    assert cold == Counter({"dynamodb.GetItem": 2, "dynamodb.Query": 2, TRANSACT: 1, ARCHIVE: 1})
    joins = [entered(f"u{i}", "vip_users", T) for i in range(20)]
    assert tracking(api, demo, aws_calls, joins) == Counter({TRANSACT: 1, ARCHIVE: 1})
    # keys no audience has (yet) are looked up, together, on every request: one made elsewhere counts at once
    early = [entered(f"u{i}", f"not_yet_{i % 3}", T) for i in range(6)]
    for _ in range(2):
        assert tracking(api, demo, aws_calls, early) == Counter({"dynamodb.BatchGetItem": 1, TRANSACT: 1, ARCHIVE: 1})
    leaves = [exited(f"u{i}", "vip_users", T + 1) for i in range(5)]
    assert tracking(api, demo, aws_calls, leaves) == Counter({TRANSACT: 1, ARCHIVE: 1})


def test_calls_that_are_not_of_an_audience_cost_the_archive_request_only(api, demo, aws_calls):
    calls = [{"type": "page", "userId": f"u{i}", "name": "Home"} for i in range(50)]
    cold = Counter({"dynamodb.GetItem": 2, "dynamodb.Query": 1, ARCHIVE: 1})  # key, tenant, privacy marks; no catalog
    assert tracking(api, demo, aws_calls, calls[:1]) == cold
    assert tracking(api, demo, aws_calls, calls) == Counter({ARCHIVE: 1})


def test_the_console_lists_every_audience_with_its_size_in_one_query_and_batched_size_reads(api, demo, aws_calls):
    for n in range(30):
        catalog_store.create_audience("demo", Audience(f"seg_{n:02}", f"ext_{n}"), OPERATOR)
    private = demo["DEMO_PRIVATE_KEY"]
    api.call("GET", "/console/api/audiences", key=private)  # warm the key cache and the catalog's copy
    aws_calls.reset()
    reply = api.call("GET", "/console/api/audiences", key=private)
    assert len(reply.body["audiences"]) == 30
    # one Query of the catalog; 30 audiences x 16 size shards: five BatchGetItems of at most 100 keys
    assert aws_calls.counts() == Counter({"dynamodb.Query": 1, "dynamodb.BatchGetItem": 5})
