"""Every store on moto and its in-memory fake, for the same tests: what one does, the other does."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from audiences import wiring
from audiences.fakes import in_memory
from audiences.fakes.archive import InMemoryArchive
from audiences.fakes.objects import InMemoryObjects
from audiences.fakes.queues import InMemoryQueues
from audiences.ports import Stores
from audiences.settings import get_settings
from local import provision
from local.provision import REGION
from tests.conftest import PLAN


@pytest.fixture(params=["aws", "memory"])
def stores(request) -> Iterator[Stores]:
    if request.param == "memory":
        yield in_memory()
        return
    with mock_aws():
        provision.provision(PLAN)
        yield wiring.on_aws()


def upload(stores: Stores, key: str, data: bytes) -> str:
    """Put a file into the imports bucket as an uploader does; its ETag."""
    if isinstance(stores.objects, InMemoryObjects):
        return stores.objects.upload(key, data)
    return boto3.client("s3", region_name=REGION).put_object(Bucket=get_settings().imports_bucket, Key=key, Body=data)[
        "ETag"
    ]


def remove_upload(stores: Stores, key: str) -> None:
    if isinstance(stores.objects, InMemoryObjects):
        stores.objects.remove_upload(key)
    else:
        boto3.client("s3", region_name=REGION).delete_object(Bucket=get_settings().imports_bucket, Key=key)


def upload_part(stores: Stores, key: str, upload_id: str, number: int, data: bytes) -> str:
    if isinstance(stores.objects, InMemoryObjects):
        return stores.objects.upload_part(upload_id, number, data)
    return boto3.client("s3", region_name=REGION).upload_part(
        Bucket=get_settings().imports_bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
    )["ETag"]


def received(stores: Stores, queue: str) -> list[str]:
    """The bodies waiting on `queue` ("imports" or "apply"), taken off it."""
    if isinstance(stores.queues, InMemoryQueues):
        bodies = []
        while (message := stores.queues.receive(queue)) is not None:
            bodies.append(message.body)
        return bodies
    sqs = boto3.client("sqs", region_name=REGION)
    url = get_settings().imports_queue_url if queue == "imports" else get_settings().apply_queue_url
    bodies = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [message["Body"] for message in messages]
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
        )
    return bodies


def archived(stores: Stores) -> list[dict]:
    """Every record the archive holds, as JSON."""
    if isinstance(stores.archive, InMemoryArchive):
        return [json.loads(record) for record in stores.archive.delivered]
    s3, bucket = boto3.client("s3", region_name=REGION), get_settings().data_bucket
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="events/").get("Contents", [])]
    return [
        json.loads(line)
        for key in keys
        for line in gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).splitlines()
    ]
