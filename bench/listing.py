"""Segment's audience listing with sizes, against the same Query and reads made bare."""

from __future__ import annotations

import time

import boto3

from bench.harness import MEMBERSHIPS, PLAN, call, fresh_aws, timed
from local import provision
from local.aws_calls import AWS_CALLS
from local.gateway import Router

LISTING_PAGES = 10  # moto's Query reads the whole table, which DynamoDB's does not: more would measure moto


def bench_audience_listing(functions) -> dict:
    """The first LISTING_PAGES pages of 10,000 audiences through Segment's list route, 200 a page."""
    from audiences.domain import OPERATOR, Audience
    from audiences.stores import catalog as catalog_store

    catalog_table, index = PLAN.names["CatalogTable"], "ByCreation"
    with fresh_aws() as keys:
        for n in range(10_000):
            catalog_store.create_audience("demo", Audience(f"aud_{n:05}", f"ext_{n:05}"), OPERATOR)
        router = Router(list(functions.values()))
        path, token = "/spaces/demo/audiences", keys["DEMO_PRIVATE_KEY"]
        call(router, "GET", path, token, None, {"pagination.count": "1"})  # warm container

        def ours_walk() -> int:
            cursor = None
            for _ in range(LISTING_PAGES):
                query = {"pagination.count": "200"} | ({"pagination.cursor": cursor} if cursor else {})
                cursor = call(router, "GET", path, token, None, query)["data"]["pagination"]["next"]
            return LISTING_PAGES

        AWS_CALLS.reset()
        started = time.perf_counter()
        pages = ours_walk()
        ours = time.perf_counter() - started
        counts = AWS_CALLS.counts()
        dynamodb = boto3.client("dynamodb", region_name=provision.REGION)

        def baseline():
            start = None
            for _ in range(LISTING_PAGES):
                found = dynamodb.query(
                    TableName=catalog_table,
                    IndexName=index,
                    KeyConditionExpression="pk = :pk",
                    ExpressionAttributeValues={":pk": {"S": "demo"}},
                    Limit=200,
                    **({"ExclusiveStartKey": start} if start else {}),
                )
                shard_keys = [
                    {"pk": {"S": f"SIZE#demo#{shard}#{item['external_id']['S']}"}, "sk": {"S": "SIZE"}}
                    for item in found["Items"]
                    for shard in range(16)
                ]
                for batch in range(0, len(shard_keys), 100):
                    dynamodb.batch_get_item(RequestItems={MEMBERSHIPS: {"Keys": shard_keys[batch : batch + 100]}})
                dynamodb.get_item(TableName=catalog_table, Key={"pk": {"S": "demo"}, "sk": {"S": "COUNT"}})
                start = found["LastEvaluatedKey"]

        base = timed(baseline)
    return {
        "audiences": 10_000,
        "pages": pages,
        "ours_seconds": ours,
        "baseline_seconds": base,
        "ratio": ours / base,
        "aws_requests_per_page": sum(counts.values()) / pages,
        "requests": dict(counts),
        "target": "ratio <= 1.5; per page 1 Query, 1 GetItem, 1 UpdateItem, 32 BatchGetItem, whatever the catalog size",
    }
