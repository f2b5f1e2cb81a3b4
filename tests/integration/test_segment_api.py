"""Segment's Public API audiences on the shared catalog: shapes, the error matrix, isolation, pagination."""

from __future__ import annotations

from collections import Counter

from audiences import cache
from tests.segment_client import create


def test_limiting_costs_one_dynamodb_request_per_call(client, aws_calls):
    created = create(client, "VIP")
    cache.clear_all()
    client.audiences(suffix=f"/{created['id']}")  # warm the key cache
    aws_calls.reset()
    client.audiences(suffix=f"/{created['id']}")
    # the counter, the id claim and the audience, the size shards
    assert aws_calls.counts() == Counter({"dynamodb.UpdateItem": 1, "dynamodb.GetItem": 2, "dynamodb.BatchGetItem": 1})


def test_a_listing_page_costs_one_query_whatever_the_catalog_size(client, aws_calls):
    for n in range(30):
        create(client, f"A{n}")
    client.audiences()  # warm the key cache
    aws_calls.reset()
    status, _, answer = client.audiences(suffix="?pagination.count=10")
    assert status == 200 and len(answer["data"]["audiences"]) == 10
    # the counter, the page, the tenant's count, the page's sizes (10 x 16 shards: two BatchGetItems of <= 100 keys)
    assert aws_calls.counts() == Counter(
        {"dynamodb.UpdateItem": 1, "dynamodb.Query": 1, "dynamodb.GetItem": 1, "dynamodb.BatchGetItem": 2}
    )
