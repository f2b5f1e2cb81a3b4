"""Audience files on the running local stack: upload, watch the activity log, see the audience change."""

from __future__ import annotations

import gzip
import json
import subprocess
import time

import boto3
import requests
from botocore.config import Config

from local.provision import REGION
from local.stack import CREDENTIALS
from tests.conftest import PLAN
from tests.e2e.conftest import aws, new_key

HEADER = "type,action,audience_id,ts,fs_user_id\n"


def csv_gz(members: list[str], audience_id: str = "e2e_imp") -> bytes:
    now = int(time.time())
    rows = "".join(f"passthrough,qualify,{audience_id},{now},{m}\n" for m in members)
    return gzip.compress((HEADER + rows).encode())


def finished_imports(stack, count: int, audience: str = "e2e_imports") -> list[dict]:
    """Wait until the audience has `count` finished imports; newest first."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        imports = stack.call("GET", f"/v3/imports?audience={audience}", key=stack.private_key).json()["imports"]
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


def test_an_edited_forged_or_expired_upload_url_is_refused_as_s3_would(stack, admin):
    """Tenant mallory edits its own upload URL to demo's key: S3 refuses it, and so must the local stack."""
    assert admin("tenants", "create", "mallory").returncode == 0
    mallory = new_key(admin, "mallory", "private")
    definition = {"definition": {"external": {"external_audience_id": "e2e_victim"}}}
    for key in (stack.private_key, mallory):
        assert stack.call("PUT", "/v3/segments/e2e_victim", key=key, json=definition).status_code == 200
    reply = stack.call("POST", "/v3/imports/upload-url", key=mallory, json={"audience": "e2e_victim"})
    own_url = reply.json()["url"]
    assert "/mallory/audience-diffs/e2e_victim.csv.gz?" in own_url

    edited = own_url.replace("/mallory/", "/demo/")
    forged = own_url.split("X-Amz-Signature=")[0] + "X-Amz-Signature=" + "A" * 64
    unsigned = own_url.split("?")[0].replace("/mallory/", "/demo/")
    expired = aws_signed_by_the_stack(stack).generate_presigned_url(
        "put_object",
        Params={"Bucket": PLAN.names["ImportsBucket"], "Key": "demo/audience-diffs/e2e_victim.csv.gz"},
        ExpiresIn=1,
    )
    time.sleep(1.5)
    for url, code in [
        (edited, "SignatureDoesNotMatch"),
        (forged, "SignatureDoesNotMatch"),
        (unsigned, "AccessDenied"),
        (expired, "AccessDenied"),
    ]:
        refused = requests.put(url, data=csv_gz(["stolen"], "e2e_victim"), timeout=10)
        assert (refused.status_code, f"<Code>{code}</Code>" in refused.text) == (403, True), (url, refused.text)

    assert requests.put(own_url, data=csv_gz(["m1"], "e2e_victim"), timeout=10).status_code == 200
    deadline = time.monotonic() + 30
    while stack.call("GET", "/v3/segments/e2e_victim", key=mallory).json()["size"] != 1:
        assert time.monotonic() < deadline, "mallory's own upload was not imported"
        time.sleep(0.2)
    assert stack.call("GET", "/v3/imports?audience=e2e_victim", key=stack.private_key).json()["imports"] == []
    assert stack.call("GET", "/v3/segments/e2e_victim", key=stack.private_key).json()["size"] == 0
    assert audiences_of(stack, "stolen") is None  # never seen by demo


def aws_signed_by_the_stack(stack):
    """A client with the local stack's own credentials: what its functions presign with."""
    return boto3.client(
        "s3",
        endpoint_url=stack.aws_url,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS.access_key,
        aws_secret_access_key=CREDENTIALS.secret_key,
        config=Config(signature_version="s3v4"),
    )


def test_a_file_uploaded_in_parts_imports_when_the_upload_is_completed(stack):
    """The way past one PUT's 5 GB: a multipart upload, its parts PUT to presigned URLs, then completed."""
    definition = {"definition": {"external": {"external_audience_id": "e2e_prt"}}}
    assert stack.call("PUT", "/v3/segments/e2e_parts", key=stack.private_key, json=definition).status_code == 200
    now = int(time.time())
    rows = "".join(f"passthrough,qualify,e2e_prt,{now},p{n % 3}\n" for n in range(170_000))  # 3 members
    data = gzip.compress((HEADER + rows).encode(), compresslevel=0)  # stored: over S3's 5 MiB least part
    first, rest = data[: 5 * 1024 * 1024], data[5 * 1024 * 1024 :]
    reply = stack.call(
        "POST", "/v3/imports/upload-url", key=stack.private_key, json={"audience": "e2e_parts", "parts": 2}
    )
    assert reply.status_code == 200, reply.text
    target = reply.json()
    assert [part["part_number"] for part in target["parts"]] == [1, 2]
    etags = [
        requests.put(part["url"], data=body, timeout=30).headers["ETag"]
        for part, body in zip(target["parts"], (first, rest), strict=True)
    ]

    wrong = {
        "audience": "e2e_parts",
        "upload_id": target["upload_id"],
        "parts": [{"part_number": 1, "etag": etags[0]}, {"part_number": 2, "etag": '"0000"'}],
    }
    refused = stack.call("POST", "/v3/imports/upload-url/complete", key=stack.private_key, json=wrong)
    assert refused.status_code == 400 and "S3 refused the parts (InvalidPart" in refused.json()["message"], refused.text

    parts = [{"part_number": n, "etag": etag} for n, etag in enumerate(etags, start=1)]
    body = {"audience": "e2e_parts", "upload_id": target["upload_id"], "parts": parts}
    done = stack.call("POST", "/v3/imports/upload-url/complete", key=stack.private_key, json=body)
    assert done.status_code == 200, done.text
    assert done.json()["key"] == "demo/audience-diffs/e2e_parts.csv.gz"
    [latest] = finished_imports(stack, 1, audience="e2e_parts")
    assert (latest["status"], latest["rows"], latest["qualified"]) == ("SUCCESS", 170_000, 3), latest
    assert stack.call("GET", "/v3/segments/e2e_parts", key=stack.private_key).json()["size"] == 3
