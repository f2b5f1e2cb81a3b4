"""The embedded DynamoDB keeps DynamoDB's transaction guarantees (see local/moto_fidelity.py)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import PLAN

TABLE = PLAN.names["MembershipsTable"]


@pytest.fixture
def dynamodb(aws):
    return boto3.client("dynamodb", region_name="us-east-1")


def item(pk: str, **attributes) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": "x"}, **attributes}


def get(dynamodb, pk: str) -> dict | None:
    return dynamodb.get_item(TableName=TABLE, Key=item(pk)).get("Item")


def test_a_failed_condition_writes_nothing_and_returns_the_stored_item(dynamodb):
    dynamodb.put_item(TableName=TABLE, Item=item("held", n={"N": "1"}))
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": item("new", n={"N": "7"})}},
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": item("held"),
                        "UpdateExpression": "SET n = :two",
                        "ConditionExpression": "n = :zero",
                        "ExpressionAttributeValues": {":two": {"N": "2"}, ":zero": {"N": "0"}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
            ]
        )
    reasons = raised.value.response["CancellationReasons"]
    assert [reason["Code"] for reason in reasons] == ["None", "ConditionalCheckFailed"]
    assert reasons[1]["Item"]["n"] == {"N": "1"}
    assert get(dynamodb, "new") is None and get(dynamodb, "held")["n"] == {"N": "1"}


def test_a_write_that_fails_midway_is_undone(dynamodb):
    dynamodb.put_item(TableName=TABLE, Item=item("text", n={"S": "not a number"}))
    dynamodb.put_item(TableName=TABLE, Item=item("kept", n={"N": "1"}))
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": item("kept", n={"N": "99"})}},
                {"Put": {"TableName": TABLE, "Item": item("added")}},
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": item("text"),
                        "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            ]
        )
    assert get(dynamodb, "kept")["n"] == {"N": "1"} and get(dynamodb, "added") is None


def test_concurrent_transactions_and_writes_lose_nothing(dynamodb):
    def transact(n: int) -> None:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": item(f"row{n}")}},
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": item("counter"),
                        "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            ]
        )

    def plain(n: int) -> None:
        dynamodb.put_item(TableName=TABLE, Item=item(f"plain{n}"))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda n: transact(n) if n % 2 else plain(n), range(200)))
    assert get(dynamodb, "counter")["n"] == {"N": "100"}
    assert all(get(dynamodb, f"plain{n}") for n in range(0, 200, 2))


def delivery_stream(firehose, name: str, query: str = "{tenant: .tenant, date: .date}") -> None:
    firehose.create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "BucketARN": f"arn:aws:s3:::{PLAN.names['DataBucket']}",
            "RoleARN": "arn:aws:iam::123456789012:role/r",
            "Prefix": "p/tenant=!{partitionKeyFromQuery:tenant}/date=!{partitionKeyFromQuery:date}/",
            "CompressionFormat": "GZIP",
            "DynamicPartitioningConfiguration": {"Enabled": True},
            "ProcessingConfiguration": {
                "Enabled": True,
                "Processors": [
                    {
                        "Type": "MetadataExtraction",
                        "Parameters": [{"ParameterName": "MetadataExtractionQuery", "ParameterValue": query}],
                    }
                ],
            },
        },
    )


def test_firehose_delivers_one_gzip_object_per_dynamic_partition(aws):
    import gzip
    import json

    firehose, s3 = boto3.client("firehose", region_name="us-east-1"), boto3.client("s3", region_name="us-east-1")
    delivery_stream(firehose, "partitioned")
    records = [{"tenant": t, "date": "2026-12-02", "n": n} for n, t in enumerate(["a", "b", "a"])]
    firehose.put_record_batch(
        DeliveryStreamName="partitioned", Records=[{"Data": json.dumps(r).encode() + b"\n"} for r in records]
    )
    bucket = PLAN.names["DataBucket"]
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="p/")["Contents"])
    assert [key.rsplit("/", 1)[0] for key in keys] == ["p/tenant=a/date=2026-12-02", "p/tenant=b/date=2026-12-02"]
    assert all(key.endswith(".gz") for key in keys)
    body = gzip.decompress(s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read())
    assert [json.loads(line)["n"] for line in body.splitlines()] == [0, 2]


def test_firehose_partitioning_it_cannot_reproduce_is_refused(aws):
    firehose = boto3.client("firehose", region_name="us-east-1")
    delivery_stream(firehose, "jq", query="{tenant: .who | ascii_downcase}")
    with pytest.raises(NotImplementedError, match="metadata extraction query"):
        firehose.put_record_batch(DeliveryStreamName="jq", Records=[{"Data": b'{"who": "A"}\n'}])


def test_a_completed_multipart_upload_is_announced_once_and_bound_to_its_key(aws):
    s3, sqs = boto3.client("s3", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
    bucket, key = PLAN.names["ImportsBucket"], "demo/audience-diffs/parts.csv.gz"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=b"x")["ETag"]
    parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
    for wrong in ("no-such-upload", upload_id):
        with pytest.raises(ClientError, match="NoSuchUpload"):
            target = key if wrong != upload_id else "demo/audience-diffs/other.csv.gz"
            s3.complete_multipart_upload(Bucket=bucket, Key=target, UploadId=wrong, MultipartUpload=parts)
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload=parts)
    url = sqs.get_queue_url(QueueName=PLAN.names["ImportsQueue"])["QueueUrl"]
    events = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        events += [record["eventName"] for m in messages for record in json.loads(m["Body"]).get("Records", [])]
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
        )
    assert events == ["ObjectCreated:CompleteMultipartUpload"]
