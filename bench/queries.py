"""Customer queries: GraphQL's customer field, without and with a subset, against the bare read."""

from __future__ import annotations

import random

import boto3

from bench.harness import CUSTOMER_QUERY, MEMBERSHIPS, T, call, fresh_aws, passthrough, timed
from local import provision
from local.aws_calls import AWS_CALLS
from local.gateway import Router


def one_user_in_five(router: Router, keys: dict[str, str]) -> dict:
    """A user "solo" in 5 audiences, and the SDKs' query of them, asked once: the key, the tenant and the
    catalog copy are warm."""
    for n in range(5):
        body = {"definition": {"external": {"external_audience_id": f"aud{n}"}}}
        call(router, "PUT", f"/v3/segments/seg_{n}", keys["DEMO_PRIVATE_KEY"], body)
    events = [passthrough("qualify", "solo", f"aud{n}", T) for n in range(5)]
    call(router, "POST", "/v3/events", keys["DEMO_PUBLIC_KEY"], events)
    query = {"query": CUSTOMER_QUERY, "variables": {"userId": "solo"}}
    call(router, "POST", "/v3/graphql", keys["DEMO_PUBLIC_KEY"], query)
    return query


def bench_customer_query(functions) -> dict:
    """1,000 customer queries without a subset, on a table of one user in 5 audiences."""
    with fresh_aws() as keys:
        router = Router(list(functions.values()))
        query = one_user_in_five(router, keys)
        AWS_CALLS.reset()
        ours = timed(lambda: [call(router, "POST", "/v3/graphql", keys["DEMO_PUBLIC_KEY"], query) for _ in range(1000)])
        counts = AWS_CALLS.counts()
        dynamodb = boto3.client("dynamodb", region_name=provision.REGION)
        pk = {":pk": {"S": "demo#fs_user_id#solo"}}

        def baseline():
            for _ in range(1000):
                dynamodb.query(TableName=MEMBERSHIPS, KeyConditionExpression="pk = :pk", ExpressionAttributeValues=pk)

        base = timed(baseline)
    return {
        "ours_seconds": ours,
        "baseline_seconds": base,
        "ratio": ours / base,
        "aws_requests_per_query": sum(counts.values()) / 1000,
        "requests": dict(counts),
        "target": "ratio <= 1.5 and 1 request per warm query",
    }


def bench_customer_subset(functions) -> dict:
    """1,000 queries of a 5-audience subset for a user in 1,000 audiences."""
    from audiences import memberships
    from audiences.domain import OPERATOR, Audience, MembershipChange, State, UserRef
    from audiences.stores import catalog as catalog_store

    rng = random.Random(23)
    with fresh_aws() as keys:
        router = Router(list(functions.values()))
        for n in range(1000):
            catalog_store.create_audience("demo", Audience(f"seg_{n:04}", f"aud{n}"), OPERATOR)
        user = UserRef("fs_user_id", "busy")
        memberships.apply("demo", [MembershipChange(user, f"aud{n}", State.QUALIFIED, T) for n in range(1000)])
        picks = [rng.sample(range(1000), 5) for _ in range(1000)]
        bodies = [
            {"query": CUSTOMER_QUERY, "variables": {"userId": "busy", "audiences": [f"seg_{n:04}" for n in pick]}}
            for pick in picks
        ]
        call(router, "POST", "/v3/graphql", keys["DEMO_PUBLIC_KEY"], bodies[0])  # warm: key, tenant, catalog
        AWS_CALLS.reset()
        ours = timed(lambda: [call(router, "POST", "/v3/graphql", keys["DEMO_PUBLIC_KEY"], b) for b in bodies])
        counts = AWS_CALLS.counts()
        dynamodb = boto3.client("dynamodb", region_name=provision.REGION)

        def baseline():
            for pick in picks:
                keys_ = [{"pk": {"S": "demo#fs_user_id#busy"}, "sk": {"S": f"aud{n}"}} for n in pick]
                dynamodb.batch_get_item(RequestItems={MEMBERSHIPS: {"Keys": keys_}})

        base = timed(baseline)
    return {
        "memberships_of_the_user": 1000,
        "ours_seconds": ours,
        "baseline_seconds": base,
        "ratio": ours / base,
        "aws_requests_per_query": sum(counts.values()) / len(bodies),
        "requests": dict(counts),
        "target": "ratio <= 2 against a bare BatchGetItem of the 5 keys; 1 request",
    }
