"""The embedded DynamoDB keeps DynamoDB's transaction guarantees (see local/moto_fidelity.py)."""

from __future__ import annotations

import json
import threading
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
        while True:  # as DynamoDB's clients do: a transaction cancelled by another one in flight is sent again
            try:
                dynamodb.transact_write_items(**add_one("counter", f"row{n}"))
                return
            except ClientError as error:
                if "TransactionConflict" not in str(error.response.get("CancellationReasons")):
                    raise

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


def add_one(pk: str, mine: str, own_items: int = 1) -> dict:
    """A transaction of a writer's own items and an item every writer shares (a size shard, say)."""
    return {
        "TransactItems": [
            *({"Put": {"TableName": TABLE, "Item": item(f"{mine}/{n}" if n else mine)}} for n in range(own_items)),
            {
                "Update": {
                    "TableName": TABLE,
                    "Key": item(pk),
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ]
    }


def test_transactions_in_flight_together_on_one_item_cancel_one_another_and_none_is_half_applied(dynamodb):
    def writer(name: str) -> tuple[int, list[list[str]]]:
        client = boto3.client("dynamodb", region_name="us-east-1")
        committed, cancellations = 0, []
        for n in range(25):
            try:  # with 50 items of its own, a transaction takes moto longer than a thread's time slice
                client.transact_write_items(**add_one("shared", f"{name}-{n}", own_items=50))
                committed += 1
            except ClientError as error:
                cancellations.append([reason["Code"] for reason in error.response["CancellationReasons"]])
        return committed, cancellations

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(writer, "abcd"))

    committed = sum(done for done, _ in results)
    cancellations = [codes for _, cancelled in results for codes in cancelled]
    assert cancellations, "four writers sending at once were never cancelled: the conflict model is off"
    assert all(codes == ["None"] * 50 + ["TransactionConflict"] for codes in cancellations)  # the shared item
    assert int(get(dynamodb, "shared")["n"]["N"]) == committed == 100 - len(cancellations)
    written = sum(get(dynamodb, f"{name}-{n}") is not None for name in "abcd" for n in range(25))
    assert written == committed  # a cancelled transaction wrote nothing


def test_a_writer_alone_is_never_cancelled_and_a_single_write_meets_a_transaction_in_flight(dynamodb):
    from local.moto_fidelity import CONFLICTS

    for n in range(20):
        dynamodb.transact_write_items(**add_one("alone", f"alone-{n}"))  # one after another: never in flight together
    assert int(get(dynamodb, "alone")["n"]["N"]) == 20

    key = ("table", "item")
    arrived, committed = threading.Event(), threading.Event()

    def single_write() -> bool:
        with CONFLICTS.request():  # arrives while the transaction below is still in flight
            arrived.set()
            committed.wait(5)
            return bool(CONFLICTS.held({key}))

    with ThreadPoolExecutor(1) as pool:
        late = pool.submit(single_write)
        arrived.wait(5)
        with CONFLICTS.request():
            CONFLICTS.commit({key})
        committed.set()
        assert late.result() is True
    with CONFLICTS.request():
        assert not CONFLICTS.held({key})  # a request that arrives after the commit meets nothing
