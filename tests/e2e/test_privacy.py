"""Privacy over HTTP against the local stack: Segment's TypeScript SDK's DeletionAndSuppressionApi, unmodified,
suppresses and deletes two users, then lifts the suppression; then nothing of the stack (every table, every
object decoded, its log) holds them, and their later events count again."""

from __future__ import annotations

import json
import os
import subprocess
import time

from tests.e2e.conftest import aws, new_key
from tests.e2e.test_segment_sdk import NODE, SDK
from tests.stored import decoded

USERS = ["priv-e2e-ann", "priv-e2e-bob"]


def send(stack, public: str, user: str, audience: str, ts: float) -> None:
    event = {
        "type": "passthrough",
        "action": "qualify",
        "identifiers": {"fs_user_id": user},
        "data": {"audience_id": audience, "ts": ts},
    }
    assert stack.call("POST", "/v3/events", public, json=[event]).status_code == 202


def held_anywhere(stack, value: str) -> list[str]:
    """Where the local stack's AWS holds `value`: table items and objects (gzip and Parquet decoded)."""
    found = []
    dynamodb, s3 = aws(stack, "dynamodb"), aws(stack, "s3")
    for table in dynamodb.list_tables()["TableNames"]:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            found += [f"{table}: {item}"[:120] for item in page["Items"] if value in repr(item)]
    for bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for stored in page.get("Contents", []):
                data = s3.get_object(Bucket=bucket, Key=stored["Key"])["Body"].read()
                if value.encode() in decoded(data):
                    found.append(f"s3://{bucket}/{stored['Key']}")
    return found


def test_the_segment_sdk_suppresses_deletes_and_lifts_and_nothing_is_left(stack, admin):
    assert admin("tenants", "create", "privacy", "--identifier", "fs_user_id=high").returncode == 0
    token, public = new_key(admin, "privacy", "private"), new_key(admin, "privacy", "public")
    for user in USERS:
        send(stack, public, user, "vip", time.time() - 60)
    assert held_anywhere(stack, USERS[0])

    env = {"PATH": os.environ["PATH"], "API_URL": stack.api_url, "TOKEN": token, "USERS": ",".join(USERS)}
    run = subprocess.run([NODE, "regulate.js"], cwd=SDK, env=env, capture_output=True, text=True, timeout=90)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)

    assert seen["regulation"]["overallStatus"] == "FINISHED" and seen["regulation"]["finishedAt"]
    assert seen["statuses"][-1] == "FINISHED" and set(seen["statuses"]) <= {"INITIALIZED", "RUNNING", "FINISHED"}
    [entry] = seen["listed"]["regulations"]
    assert (entry["id"], entry["regulationType"], sorted(entry["subjects"])) == (
        seen["regulateId"],
        "SUPPRESS_WITH_DELETE",
        USERS,
    )
    assert len(seen["suppressions"]["suppressed"][0]["subjectIds"]) == 2
    assert seen["unsuppressed"]["overallStatus"] == "FINISHED"
    assert seen["suppressionsAfter"]["suppressed"] == []

    for user in USERS:
        assert held_anywhere(stack, user) == [], user
        assert user not in stack.log.read_text()  # no identifier in any log line

    # the erasure keeps out whatever is dated up to MAX_FUTURE_SKEW_SECONDS (2 s here) after its marks took effect
    time.sleep(2.5)
    send(stack, public, USERS[0], "vip", time.time())  # unsuppressed and newer than the erasure: it counts
    lookup = {"field": "fs_user_id", "value": USERS[0]}
    known = stack.call("GET", "/console/api/customers", token, params=lookup)
    assert known.json()["known"] is True, known.text
