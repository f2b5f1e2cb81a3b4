"""The local stack's check of presigned URLs refuses what S3 refuses and passes what S3 passes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.config import Config

from local.presigned import PresignedUrlCheck
from local.stack import CREDENTIALS

ENDPOINT = "127.0.0.1:4566"
BUCKET = "imports"
KEY = "beta/audience-diffs/vip.csv.gz"


def presign(expires: int = 900, signature_version: str = "s3v4", secret: str = CREDENTIALS.secret_key, **params) -> str:
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://{ENDPOINT}",
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS.access_key,
        aws_secret_access_key=secret,
        config=Config(signature_version=signature_version),
    )
    return s3.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": KEY, **params}, ExpiresIn=expires)


def downstream(environ, start_response):
    start_response("200 OK", [])
    return [b"moto"]


def check(now: datetime | None = None) -> PresignedUrlCheck:
    clock = (lambda: now) if now else (lambda: datetime.now(UTC))
    return PresignedUrlCheck(downstream, frozenset({BUCKET}), CREDENTIALS, "us-east-1", clock)


def refusal_code(url: str, method: str = "PUT", headers: dict | None = None, now: datetime | None = None) -> str | None:
    refusal = check(now).refusal(method, url, {"host": ENDPOINT} if headers is None else headers)
    return refusal and refusal.code


def test_a_url_as_presigned_passes():
    assert refusal_code(presign()) is None


@pytest.mark.parametrize(
    "edit",
    [
        lambda url: url.replace("/beta/", "/alpha/"),  # another tenant's key
        lambda url: url.replace("vip.csv.gz", "vip2.csv.gz"),
        lambda url: url.split("X-Amz-Signature=")[0] + "X-Amz-Signature=" + "A" * 64,
        lambda url: url.replace("X-Amz-Expires=900", "X-Amz-Expires=3600"),  # a longer life than signed
        lambda url: url.replace("us-east-1", "eu-west-1"),
    ],
    ids=["other-tenant", "other-key", "forged-signature", "longer-expiry", "other-region"],
)
def test_an_edited_url_is_refused(edit):
    url = presign()
    assert edit(url) != url
    assert refusal_code(edit(url)) == "SignatureDoesNotMatch"


def test_the_method_and_host_are_signed():
    assert refusal_code(presign(), method="GET") == "SignatureDoesNotMatch"
    assert refusal_code(presign(), headers={"host": "127.0.0.1:9999"}) == "SignatureDoesNotMatch"


def test_a_url_signed_with_another_secret_or_key_is_refused():
    assert refusal_code(presign(secret="not-the-secret")) == "SignatureDoesNotMatch"
    other_key = presign().replace(f"X-Amz-Credential={CREDENTIALS.access_key}", "X-Amz-Credential=AKIAOTHER")
    assert refusal_code(other_key) == "InvalidAccessKeyId"


def test_a_url_is_refused_after_it_expires_and_not_before():
    url = presign(expires=60)
    now = datetime.now(UTC)
    assert refusal_code(url, now=now + timedelta(seconds=30)) is None
    assert refusal_code(url, now=now + timedelta(seconds=120)) == "AccessDenied"


def test_signed_headers_must_arrive_as_signed():
    url = presign(ContentType="text/csv")
    assert refusal_code(url, headers={"host": ENDPOINT, "content-type": "text/csv"}) is None
    assert refusal_code(url, headers={"host": ENDPOINT, "content-type": "text/plain"}) == "SignatureDoesNotMatch"


def test_unsigned_and_malformed_requests_are_refused():
    unsigned = f"http://{ENDPOINT}/{BUCKET}/{KEY}"
    assert refusal_code(unsigned) == "AccessDenied"
    assert refusal_code(presign().replace("X-Amz-Date=", "X-Amz-Dat=")) == "AuthorizationQueryParametersError"
    assert refusal_code(presign(signature_version="s3")) == "AuthorizationQueryParametersError"  # SigV2


def test_header_signed_requests_pass_as_before():
    assert refusal_code(f"http://{ENDPOINT}/{BUCKET}/{KEY}", headers={"authorization": "AWS4-HMAC-SHA256 …"}) is None


def wsgi(url_path: str, host: str = ENDPOINT) -> tuple[str, bytes]:
    answered = {}
    environ = {"REQUEST_METHOD": "PUT", "HTTP_HOST": host, "RAW_URI": url_path}
    body = b"".join(check()(environ, lambda status, headers: answered.setdefault("status", status)))
    return answered["status"], body


def test_requests_to_other_buckets_and_services_reach_moto_unchecked():
    assert wsgi("/other-bucket/key") == ("200 OK", b"moto")
    assert wsgi("/") == ("200 OK", b"moto")


def test_the_bucket_is_recognized_path_style_and_virtual_hosted():
    status, body = wsgi(f"/{BUCKET}/{KEY}")
    assert status.startswith("403") and b"<Code>AccessDenied</Code>" in body
    status, _ = wsgi(f"/{KEY}", host=f"{BUCKET}.localhost:4566")
    assert status.startswith("403")
    url = presign()
    assert wsgi(url.split(ENDPOINT, 1)[1]) == ("200 OK", b"moto")
