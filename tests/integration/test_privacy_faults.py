"""A privacy job on moto: a crash before or after any of its AWS calls, then the redelivery, always ends
with the subject nowhere in the stack (every table scanned, every object decoded), sizes exact, the
request FINISHED; and the job's requests, by store."""

from __future__ import annotations

import time

import boto3
import pytest

from audiences import auth, memberships
from audiences.domain import Confidence, Principal, Scope, Tenant
from audiences.stores import tenants as tenant_store
from local.provision import REGION
from tests.aws_calls import crash_points
from tests.conftest import PLAN
from tests.imports_helpers import crash_then_redeliver, csv_gz, drain, privacy_poller, upload
from tests.integration.helpers import event, segment
from tests.segment_client import Segment
from tests.stored import decoded

SUBJECT = "ann-7f3e"  # a value no other item or object holds by chance


def prepare(api, functions, tenant_id: str) -> Segment:
    """A tenant with the subject in an audience by events (in the archive) and by a file (in a snapshot and
    the uploaded file), and other users beside it; a regulation queued for the subject."""
    tenant_store.create_tenant(Tenant.of(tenant_id, fs_user_id=Confidence.HIGH))
    key = auth.issue_key(Principal(tenant_id, Scope.PRIVATE))
    public = auth.issue_key(Principal(tenant_id, Scope.PUBLIC))
    assert api.call("PUT", "/v3/segments/vip_users", segment("vip"), key=key).status == 200
    drain(functions)
    upload(csv_gz([SUBJECT, "bob"]), key=f"{tenant_id}/audience-diffs/vip_users.csv.gz")
    drain(functions)
    events = [event("qualify", SUBJECT, "churn", time.time() - 5), event("qualify", "carl", "churn", time.time() - 5)]
    assert api.call("POST", "/v3/events", events, key=public).status == 202
    client = Segment(api, key)
    body = {"regulationType": "SUPPRESS_WITH_DELETE", "subjectType": "USER_ID", "subjectIds": [SUBJECT]}
    status, _, answer = client.call("POST", "/regulations", body)
    assert status == 200, answer
    client.tenant_id, client.regulate_id = tenant_id, answer["data"]["regulateId"]
    return client


def run_job(functions, fault: tuple[int, str] | None) -> list[str]:
    """The job's message, processed with `fault` armed, then redelivered until done; the first try's calls."""
    return crash_then_redeliver(functions, fault, poller=privacy_poller(functions))


def everything_stored(tenant_id: str = "") -> list[bytes]:
    """Every item of every table and every object of every bucket (the tenant's, if one is named), decoded
    (gzip, Parquet), as bytes."""
    dynamodb, s3 = boto3.client("dynamodb", region_name=REGION), boto3.client("s3", region_name=REGION)
    held = []
    for logical_id in PLAN.of_type("AWS::DynamoDB::Table"):
        for page in dynamodb.get_paginator("scan").paginate(TableName=PLAN.names[logical_id]):
            held += [repr(item).encode() for item in page["Items"]]
    for logical_id in PLAN.of_type("AWS::S3::Bucket"):
        bucket = PLAN.names[logical_id]
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for version in page.get("Versions", []):
                if (
                    tenant_id
                    and f"tenant={tenant_id}/" not in version["Key"]
                    and not version["Key"].startswith(f"{tenant_id}/")
                ):
                    continue
                data = s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])["Body"].read()
                held.append(decoded(data))
    return held


def assert_forgotten(client: Segment, context: str, everywhere: bool = False) -> None:
    """Nowhere: every table, and every object (of the tenant's only, unless `everywhere`)."""
    stored = everything_stored("" if everywhere else client.tenant_id)
    assert not [held[:200] for held in stored if SUBJECT.encode() in held], context
    sizes = memberships.audience_sizes(client.tenant_id, ["vip", "churn"])
    assert sizes == {"vip": 1, "churn": 1}, context
    _, _, answer = client.call("GET", f"/regulations/{client.regulate_id}")
    assert answer["data"]["regulation"]["overallStatus"] == "FINISHED", context


def test_the_subject_is_somewhere_before_and_nowhere_after(api, functions):
    client = prepare(api, functions, "once")
    assert (
        sum(SUBJECT.encode() in stored for stored in everything_stored()) >= 4
    )  # membership, archive, snapshot, upload
    calls = run_job(functions, None)
    assert_forgotten(client, "without a crash", everywhere=True)
    assert {"dynamodb.TransactWriteItems", "s3.PutObject", "s3.DeleteObject", "s3.ListObjectsV2"} <= set(calls)


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_crash_around_every_aws_call_of_the_job_converges(api, functions, when):
    clean = prepare(api, functions, "clean")
    calls = run_job(functions, None)
    assert_forgotten(clean, "without a crash")
    for index in crash_points(calls, when):
        client = prepare(api, functions, f"{when}{index}")
        run_job(functions, (index, when))
        assert_forgotten(client, f"crash {when} call {index} ({calls[index]})")


def test_with_versioning_turned_on_no_version_keeps_the_subject(api, functions):
    s3 = boto3.client("s3", region_name=REGION)
    client = prepare(api, functions, "versioned")
    for bucket in (PLAN.names["DataBucket"], PLAN.names["ImportsBucket"]):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    upload(csv_gz([SUBJECT, "bob", "dan"]), key="versioned/audience-diffs/vip_users.csv.gz")  # a version atop the first
    drain(functions)
    assert (
        client.call(
            "POST", "/regulations", {"regulationType": "DELETE_ONLY", "subjectType": "USER_ID", "subjectIds": [SUBJECT]}
        )[0]
        == 200
    )
    drain(functions)
    assert not [held[:200] for held in everything_stored() if SUBJECT.encode() in held]
