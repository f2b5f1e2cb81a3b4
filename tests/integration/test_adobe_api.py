"""Adobe Experience Platform's external audiences on the shared catalog: shapes, sandboxes, the error matrix."""

from __future__ import annotations

from audiences.wiring import stores
from tests.adobe_client import request

T = 1_748_851_070


def test_upload_urls_point_into_the_sandboxs_area_at_the_source_path(api, demo, adobe):
    file_audience = adobe.create()["operationId"]
    status, target = adobe.call("POST", f"/external-audience/{file_audience}/upload-url")
    assert status == 200, target
    assert target["path"] == "activation/sample-source/example.csv"
    assert target["key"] == "demo/sources/adobe/prod/activation/sample-source/example.csv"
    assert "X-Amz-Signature=" in target["url"] and target["expiresAt"] > T
    spec = {"path": "drops/", "type": "folder"}
    folder_audience = adobe.create(name="Folder", sourceSpec=spec)["operationId"]
    status, target = adobe.call("POST", f"/external-audience/{folder_audience}/upload-url", {"fileName": "d1.csv"})
    assert (status, target["path"], target["key"]) == (200, "drops/d1.csv", "demo/sources/adobe/prod/drops/d1.csv")


def test_an_aws_failure_is_adobes_500_that_says_retrying_is_safe_and_creates_nothing(adobe):
    from tests.aws_calls import AWS_FAULTS

    AWS_FAULTS.arm(2, "before")  # the key and the tenant are read; the create's transaction fails
    try:
        status, error = adobe.call("POST", "/external-audience", request(customAudienceId="unlucky"))
    finally:
        AWS_FAULTS.disarm()
    assert (status, error["report"]["errorCode"], error["title"]) == (500, "100970-500", "INTERNAL_SERVER_ERROR")
    assert "retrying the same request is safe" in error["detail"]
    assert stores().catalog.get_audience("demo", "unlucky") is None
    assert adobe.call("POST", "/external-audience", request(customAudienceId="unlucky"))[0] == 202
