"""Audience files on the running local stack: upload, watch the activity log, see the audience change."""

from __future__ import annotations

import gzip
import json
import subprocess
import time

import boto3
import requests

from local.provision import REGION
from tests.conftest import PLAN

HEADER = "type,action,audience_id,ts,fs_user_id\n"


def csv_gz(members: list[str]) -> bytes:
    now = int(time.time())
    return gzip.compress((HEADER + "".join(f"passthrough,qualify,e2e_imp,{now},{m}\n" for m in members)).encode())


def aws(stack, service: str):
    return boto3.client(
        service, endpoint_url=stack.aws_url, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )


def finished_imports(stack, count: int) -> list[dict]:
    """Wait until the audience has `count` finished imports; newest first."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        imports = stack.call("GET", "/v3/imports?audience=e2e_imports", key=stack.private_key).json()["imports"]
        done = [i for i in imports if i["status"] != "PROCESSING"]
        if len(done) >= count:
            return done
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} imports finished: {imports}")


def size(stack) -> int:
    return stack.call("GET", "/v3/segments/e2e_imports", key=stack.private_key).json()["size"]


def audiences_of(stack, user: str) -> list[str] | None:
    query = {"query": f'{{customer(fs_user_id: "{user}") {{audiences {{edges {{node {{name}}}}}}}}}}'}
    customer = stack.call("POST", "/v3/graphql", key=stack.public_key, json=query).json()["data"]["customer"]
    return None if customer is None else [edge["node"]["name"] for edge in customer["audiences"]["edges"]]


def upload_url(stack) -> str:
    reply = stack.call("POST", "/v3/imports/upload-url", key=stack.private_key, json={"audience": "e2e_imports"})
    assert reply.status_code == 200, reply.text
    return reply.json()["url"]


def test_imports_by_boto3_presigned_url_and_curl(stack, tmp_path):
    definition = {"definition": {"external": {"external_audience_id": "e2e_imp"}}}
    assert stack.call("PUT", "/v3/segments/e2e_imports", key=stack.private_key, json=definition).status_code == 200
    key = "demo/audience-diffs/e2e_imports.csv.gz"

    aws(stack, "s3").put_object(Bucket=PLAN.names["ImportsBucket"], Key=key, Body=csv_gz(["ia", "ib", "ic"]))
    first = finished_imports(stack, 1)[0]
    assert (first["status"], first["qualified"], first["rows"]) == ("SUCCESS", 3, 3)
    assert size(stack) == 3 and audiences_of(stack, "ia") == ["e2e_imports"]

    assert requests.put(upload_url(stack), data=csv_gz(["ib", "ic", "id"]), timeout=10).status_code == 200
    second = finished_imports(stack, 2)[0]
    assert (second["qualified"], second["disqualified"], second["unchanged"]) == (1, 1, 2)
    assert audiences_of(stack, "ia") == [] and audiences_of(stack, "id") == ["e2e_imports"]

    emptied = tmp_path / "empty.csv.gz"
    emptied.write_bytes(gzip.compress(HEADER.encode(), mtime=0))
    curl = subprocess.run(["curl", "-sS", "-f", "-T", str(emptied), upload_url(stack)], capture_output=True, text=True)
    assert curl.returncode == 0, curl.stderr
    third = finished_imports(stack, 3)[0]
    assert (third["status"], third["disqualified"]) == ("SUCCESS", 3)
    assert size(stack) == 0

    requests.put(upload_url(stack), data=csv_gz(["ia"]), timeout=10)  # ia re-joins
    assert finished_imports(stack, 4)[0]["qualified"] == 1
    assert audiences_of(stack, "ia") == ["e2e_imports"] and size(stack) == 1

    # Another notification for the file as it is: nothing changes.
    head = aws(stack, "s3").head_object(Bucket=PLAN.names["ImportsBucket"], Key=key)
    notify(stack, key, head["ETag"], head["ContentLength"])
    again = finished_imports(stack, 5)[0]
    assert (again["status"], again["qualified"], again["disqualified"], again["unchanged"]) == ("SUCCESS", 0, 0, 1)
    assert size(stack) == 1

    requests.put(upload_url(stack), data=b"\x1f\x8b broken", timeout=10)
    failed = finished_imports(stack, 6)[0]
    assert (failed["status"], failed["message"]) == (
        "FAILED",
        "the gzip data is truncated or corrupt: upload the file again",
    )
    assert size(stack) == 1


def notify(stack, key: str, etag: str, length: int) -> None:
    """An S3 ObjectCreated notification for the object, as S3 would send it, sent to the imports queue."""
    now = time.time()
    event_time = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
    record = {
        "eventName": "ObjectCreated:Put",
        "eventTime": event_time,
        "s3": {"bucket": {"name": PLAN.names["ImportsBucket"]}, "object": {"key": key, "size": length, "eTag": etag}},
    }
    sqs = aws(stack, "sqs")
    queue_url = sqs.get_queue_url(QueueName=PLAN.names["ImportsQueue"])["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"Records": [record]}))
