"""/v3/imports: the activity log and upload URLs, through the management handler on moto."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.conftest import PLAN
from tests.integration.helpers import segment


def test_upload_url_is_a_short_lived_put_for_the_audience_file(api, demo):
    key = demo["DEMO_PRIVATE_KEY"]
    api.call("PUT", "/v3/segments/vip_users", segment("vip"), key=key)
    body = api.call("POST", "/v3/imports/upload-url", {"audience": "vip_users"}, key=key).body
    assert (body["method"], body["key"]) == ("PUT", "demo/audience-diffs/vip_users.csv.gz")
    url = urlsplit(body["url"])
    assert PLAN.names["ImportsBucket"] in body["url"] and url.path.endswith("/demo/audience-diffs/vip_users.csv.gz")
    assert "Signature" in url.query or "X-Amz-Signature" in url.query
    assert body["expires_at"].endswith("Z")


def test_a_multipart_upload_url_has_a_presigned_put_per_part(api, demo):
    key = demo["DEMO_PRIVATE_KEY"]
    api.call("PUT", "/v3/segments/vip_users", segment("vip"), key=key)
    body = api.call("POST", "/v3/imports/upload-url", {"audience": "vip_users", "parts": 3}, key=key).body
    assert (body["method"], body["key"]) == ("PUT", "demo/audience-diffs/vip_users.csv.gz") and body["upload_id"]
    for number, part in enumerate(body["parts"], start=1):
        query = urlsplit(part["url"]).query
        assert part["part_number"] == number and f"partNumber={number}" in query and "uploadId=" in query
        assert "X-Amz-Signature" in query or "Signature" in query
    assert len(body["parts"]) == 3
