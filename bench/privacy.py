"""A 1,000-subject delete over an event archive of 10^6 events, against the least a purge can do.

The archive is 100 Firehose-like objects of 10,000 events (gzip JSON Lines) of 100,000 users; the 1,000
subjects have about 10 events each, spread over every object (so every object is rewritten: the worst
case, and the usual one), and 5 memberships each. The baseline is what a skeptic would write for this one
layout: a Query of each subject's memberships and a bare DeleteItem of each (no size kept, no condition, no
mark, no checkpoint), then the
same objects read and rewritten in one pass, each line's user found by slicing its text at `"fs_user_id": "`
(no tokenizing, no generality).
"""

from __future__ import annotations

import gzip
import json
import random
import time

import boto3

from bench.harness import MEMBERSHIPS, PLAN, T, fresh_aws, lww_update, timed
from local import provision
from local.aws_calls import AWS_CALLS

EVENTS, OBJECTS, USERS, SUBJECTS, AUDIENCES = 1_000_000, 100, 100_000, 1_000, 5
# us-east-1 on-demand prices (2026-12), as bench/costs.py names its others
PRICES = {
    "s3_get_per_thousand": 0.0004,
    "s3_put_or_list_per_thousand": 0.005,
    "dynamodb_per_million_write_units": 0.625,
    "dynamodb_per_million_read_units": 0.125,
    "lambda_arm64_per_gb_second": 0.0000133334,
}
PRIVACY_FUNCTION_GB = 3008 / 1024


def _archive(s3, bucket: str) -> None:
    rng = random.Random(11)
    for n in range(OBJECTS):
        lines = []
        for index in range(EVENTS // OBJECTS):
            user = f"user-{rng.randrange(USERS)}"
            event = {"type": "passthrough", "action": "qualify", "identifiers": {"fs_user_id": user}}
            event["data"] = {"audience_id": f"aud{index % AUDIENCES}", "ts": T}
            record = {"tenant": "demo", "date": "2026-12-01", "source": "odp-events", "upload_id": f"u{n}"}
            lines.append(json.dumps(record | {"index": index, "received_at": "2026-12-01T00:00:00", "event": event}))
        body = gzip.compress(("\n".join(lines) + "\n").encode(), 6)
        s3.put_object(Bucket=bucket, Key=f"events/tenant=demo/date=2026-12-01/part-{n:04d}.gz", Body=body)


def _baseline(s3, bucket: str, subjects: set[bytes]) -> dict:
    dynamodb = boto3.client("dynamodb", region_name=provision.REGION)
    for subject in sorted(subjects):  # what the user is in must be read: one Query, then a DeleteItem each
        pk = {":pk": {"S": f"base#fs_user_id#{subject.decode()}"}}
        found = dynamodb.query(TableName=MEMBERSHIPS, KeyConditionExpression="pk = :pk", ExpressionAttributeValues=pk)
        for item in found["Items"]:
            dynamodb.delete_item(TableName=MEMBERSHIPS, Key={"pk": item["pk"], "sk": item["sk"]})
    marker, rewritten = b'"fs_user_id": "', 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="events/tenant=demo/"):
        for stored in page.get("Contents", []):
            key = stored["Key"]
            data = gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            kept = [
                line
                for line in data.splitlines(keepends=True)
                if line.partition(marker)[2].partition(b'"')[0] not in subjects
            ]
            if len(kept) < data.count(b"\n"):
                s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(b"".join(kept), 6))
                rewritten += 1
    return {"objects_rewritten": rewritten}


def bench_privacy_delete() -> dict:
    from audiences import memberships, screening
    from audiences.domain import MembershipChange, State, UserRef
    from audiences.ports.privacy import Kind, Subject
    from audiences.privacy import jobs, requests
    from audiences.wiring import stores

    with fresh_aws():
        s3 = boto3.client("s3", region_name=provision.REGION)
        bucket = PLAN.names["DataBucket"]
        _archive(s3, bucket)
        subjects = [f"user-{n}" for n in range(SUBJECTS)]
        changes = [
            MembershipChange(UserRef("fs_user_id", user), f"aud{a}", State.QUALIFIED, T)
            for user in subjects + [f"user-{n}" for n in range(SUBJECTS, 2 * SUBJECTS)]
            for a in range(AUDIENCES)
        ]
        for start in range(0, len(changes), 500):
            memberships.apply("demo", changes[start : start + 500])
        dynamodb = boto3.client("dynamodb", region_name=provision.REGION)
        for user in subjects:  # the baseline's copy of the subjects' memberships
            for a in range(AUDIENCES):
                lww_update(dynamodb, f"base#fs_user_id#{user}", f"aud{a}", "qualified", T)
        before = memberships.audience_sizes("demo", [f"aud{a}" for a in range(AUDIENCES)])
        tenant = stores().tenants.get_tenant("demo")
        submitted = requests.submit(
            tenant,
            Kind.DELETE,
            [Subject("fs_user_id", s) for s in subjects],
            origin="operator",
            created_by="bench",
            keep_days=90,
        )
        screening.forget("demo")
        AWS_CALLS.reset()
        started = time.perf_counter()
        waits = 0
        while (wait := jobs.run("demo", submitted.request.request_id, seconds_left=lambda: 900)) is not None:
            waits += 1
            assert wait == 0, wait  # settle is 0 here; a checkpoint asks to go on at once
        ours = time.perf_counter() - started
        counts = AWS_CALLS.counts()
        done = stores().privacy.get_request("demo", submitted.request.request_id)
        after = memberships.audience_sizes("demo", [f"aud{a}" for a in range(AUDIENCES)])
        assert all(before[k] - after[k] == SUBJECTS for k in before), (before, after)
        subject_bytes = {s.encode() for s in subjects}
        base = timed(lambda: _baseline(s3, bucket, subject_bytes))
    results = done.results
    requests_total = sum(counts.values())
    cost = _cost(counts, ours)
    return {
        "archive_events": EVENTS,
        "archive_objects": OBJECTS,
        "subjects": SUBJECTS,
        "memberships_erased": results.get("memberships", 0),
        "events_removed": results.get("events", 0),
        "objects_read": results.get("objects_read", 0),
        "objects_rewritten": results.get("objects_rewritten", 0),
        "objects_erased": results.get("objects_erased", 0),
        "aws_requests": dict(sorted(counts.items())),
        "aws_requests_total": requests_total,
        "seconds": ours,
        "baseline_seconds": base,
        "ratio": ours / base,
        "checkpoint_continuations": waits,
        "aws_cost": cost,
        "aws_cost_per_subject": cost["total"] / SUBJECTS,
        "target": "ratio <= 4.0 (it reads each subject twice, before and after the purge; the baseline once)",
    }


def _cost(counts: dict, seconds: float) -> dict:
    """Dollars on AWS: S3 and DynamoDB by the requests counted (a transaction item of 1 KB is 2 write units;
    a conditional delete 1), Lambda by this run's seconds on the privacy function's memory (moto's in-process
    S3 is slower than S3 in Region for reads, faster for nothing: an overestimate)."""
    gets = counts.get("s3.GetObject", 0)
    puts = counts.get("s3.PutObject", 0) + counts.get("s3.ListObjectsV2", 0) + counts.get("s3.ListObjectVersions", 0)
    transactions = counts.get("dynamodb.TransactWriteItems", 0)
    write_units = 4 * transactions + counts.get("dynamodb.DeleteItem", 0) + counts.get("dynamodb.UpdateItem", 0)
    read_units = counts.get("dynamodb.Query", 0) + counts.get("dynamodb.GetItem", 0)
    cost = {
        "s3": gets * PRICES["s3_get_per_thousand"] / 1000 + puts * PRICES["s3_put_or_list_per_thousand"] / 1000,
        "dynamodb": write_units * PRICES["dynamodb_per_million_write_units"] / 1e6
        + read_units * PRICES["dynamodb_per_million_read_units"] / 1e6,
        "lambda": seconds * PRIVACY_FUNCTION_GB * PRICES["lambda_arm64_per_gb_second"],
    }
    return cost | {"total": sum(cost.values())}
