"""Adobe Experience Platform's external audiences on the shared catalog: shapes, sandboxes, the error matrix."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from audiences import auth
from audiences.domain import Confidence, Principal, Scope, Tenant
from audiences.wiring import stores
from local.gateway import respond
from tests.adobe_client import Adobe, request
from tests.integration.helpers import customer_query, event, segment


def test_create_answers_an_operation_that_has_succeeded_and_names_the_audience(adobe):
    created = adobe.create(sourceSpec={"params": {"path": "a/b.csv", "type": "file"}})
    details = created["operationDetails"]
    assert uuid.UUID(created["operationId"])
    assert details["ttlInDays"] == 40 and details["sourceSpec"] == {"params": {"path": "a/b.csv", "type": "file"}}
    assert details["fields"][0] == {"name": "ppid", "type": "string", "identityNs": "email"}
    for spelling in ("external-audiences", "external-audience"):
        status, operation = adobe.call("GET", f"/{spelling}/operations/{created['operationId']}")
        assert status == 200 and operation["status"] == "SUCCESS"
        assert operation["operationDetails"] == details
        assert operation["audienceName"] == "Sample external audience"
        assert isinstance(operation["createdAt"], int) and operation["createdBy"] == operation["updatedBy"]
    audience_id = operation["audienceId"]
    status, audience = adobe.call("GET", f"/external-audience/{audience_id}")
    assert status == 200
    assert audience["sourceSpec"] == {"path": "a/b.csv", "type": "file"}  # flat, as Adobe's audience shows it
    assert (audience["key"], audience["size"], audience["ttlInDays"]) == ("sample_external_audience", 0, 40)
    assert audience["namespace"] == "CustomerAudienceUpload" and audience["labels"] == ["core/C1"]


def test_the_audience_is_in_the_shared_catalog_for_every_dialect(api, demo, adobe):
    created = adobe.create(customAudienceId="loyal_buyers")
    audience_id = created["operationId"]
    public, private = demo["DEMO_PUBLIC_KEY"], demo["DEMO_PRIVATE_KEY"]
    recent = time.time() - 60  # within the audience's TTL (40 days): an older qualification has expired
    api.call("POST", "/v3/events", [event("qualify", "u1", "loyal_buyers", recent)], key=public)
    reply = api.call("POST", "/v3/graphql", customer_query("u1"), key=public)
    assert [e["node"]["name"] for e in reply.body["data"]["customer"]["audiences"]["edges"]] == ["loyal_buyers"]
    assert adobe.call("GET", f"/external-audience/{audience_id}")[1]["size"] == 1
    assert api.call("GET", "/v3/segments/loyal_buyers", key=private).status == 200
    listing = api.call("POST", "/v3/graphql", {"query": "{audiences {edges {node {name size}}}}"}, key=public).body
    assert listing["data"]["audiences"]["edges"] == [{"node": {"name": "loyal_buyers", "size": 1}}]
    status, _, listed = respond(
        api.router, "GET", "/spaces/demo/audiences", [("authorization", f"Bearer {private}")], b""
    )
    assert status == 200
    assert [(a["id"], a["size"]["count"]) for a in json.loads(listed)["data"]["audiences"]] == [(audience_id, 1)]


def test_patch_replaces_what_it_names_and_nothing_else(adobe):
    audience_id = adobe.create()["operationId"]
    patch = {
        "description": "New",
        "labels": ["core/C9"],
        "ttlInDays": 7,
        "fields": [{"name": "delete", "labels": ["x"]}],
    }
    status, patched = adobe.call("PATCH", f"/external-audience/{audience_id}", patch)
    assert status == 200, patched
    assert (patched["description"], patched["labels"], patched["ttlInDays"]) == ("New", ["core/C9"], 7)
    assert patched["fields"][2] == {"name": "delete", "type": "number", "labels": ["x"]}
    assert patched["fields"][1]["labels"] == ["core/C2", "custom/deep"]  # not named: kept
    assert patched["updatedAt"] >= patched["createdAt"]
    assert adobe.call("GET", f"/external-audience/{audience_id}")[1] == patched


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"name": "renamed"}, "name"),
        ({"fields": [{"name": "nope", "labels": []}]}, "fields"),
        ({"ttlInDays": 91}, "ttlInDays"),
        ({}, "body"),
    ],
)
def test_a_bad_patch_is_a_400_that_changes_nothing(adobe, patch, field):
    audience_id = adobe.create()["operationId"]
    before = adobe.call("GET", f"/external-audience/{audience_id}")[1]
    status, error = adobe.call("PATCH", f"/external-audience/{audience_id}", patch)
    assert (status, error["report"]["errorCode"], error["title"]) == (400, "100910-400", "BAD_REQUEST")
    assert field in error["detail"]
    assert adobe.call("GET", f"/external-audience/{audience_id}")[1] == before


def test_delete_answers_204_and_the_audience_is_gone_everywhere(api, demo, adobe):
    audience_id = adobe.create(customAudienceId="gone")["operationId"]
    assert adobe.call("DELETE", f"/external-audience/{audience_id}/") == (204, None)
    assert adobe.call("GET", f"/external-audience/{audience_id}")[0] == 404
    assert api.call("GET", "/v3/segments/gone", key=demo["DEMO_PRIVATE_KEY"]).status == 404


def test_sandboxes_isolate_this_dialects_view_only(api, demo, adobe):
    audience_id = adobe.create(customAudienceId="prod_only")["operationId"]
    dev = Adobe(api, demo["DEMO_PRIVATE_KEY"], sandbox="dev")
    for method, path in [
        ("GET", f"/external-audience/{audience_id}"),
        ("GET", f"/external-audiences/operations/{audience_id}"),
        ("PATCH", f"/external-audience/{audience_id}"),
        ("DELETE", f"/external-audience/{audience_id}"),
    ]:
        status, error = dev.call(method, path, {"description": "x"} if method == "PATCH" else None)
        assert (status, error["report"]["errorCode"]) == (404, "100940-404"), (method, path)
    # the same name is free in another sandbox, and taken in this one
    assert dev.call("POST", "/external-audience", request(customAudienceId="prod_only"))[0] == 202
    status, error = adobe.call("POST", "/external-audience", request(customAudienceId="other"))
    assert (status, error["report"]["errorCode"], error["title"]) == (409, "100950-409", "DUPLICATE_RESOURCE")
    assert "name 'Sample external audience' already exists in this sandbox" in error["detail"]
    # ODP sees both: the dev one took a suffixed key, as prod_only was held
    keys = api.call("GET", "/v3/segments", key=demo["DEMO_PRIVATE_KEY"]).body["segment_ids"]
    assert "prod_only" in keys and len([k for k in keys if k.startswith("prod_only_")]) == 1


def test_audiences_of_other_dialects_and_other_tenants_are_not_found(api, demo, adobe):
    api.call("PUT", "/v3/segments/odp_made", segment("odp_made"), key=demo["DEMO_PRIVATE_KEY"])
    odp_made = stores().catalog.get_audience("demo", "odp_made").audience_id
    assert adobe.call("GET", f"/external-audience/{odp_made}")[0] == 404
    theirs = adobe.create()["operationId"]

    stores().tenants.create_tenant(Tenant.of("other", email=Confidence.HIGH))
    other = Adobe(api, auth.issue_key(Principal("other", Scope.PRIVATE)), org="other")
    for method in ("GET", "DELETE"):
        status, error = other.call(method, f"/external-audience/{theirs}")
        assert (status, error["report"]["errorCode"]) == (404, "100940-404")
    assert other.call("GET", f"/external-audiences/operations/{theirs}")[0] == 404


@pytest.mark.parametrize("header", ["Authorization", "x-api-key", "x-gw-ims-org-id", "x-sandbox-name"])
def test_a_missing_header_is_a_401_naming_it(adobe, header):
    status, error = adobe.call("POST", "/external-audience", request(), drop=header)
    assert (status, error["report"]["errorCode"], error["title"]) == (401, "100920-401", "UNAUTHORIZED")
    assert header in error["detail"]
    assert error["type"] == "http://ns.adobe.com/aep/errors/100920-401" and error["status"] == 401


def test_token_org_and_sandbox_errors(api, demo, adobe):
    for token in ("nope", demo["DEMO_PUBLIC_KEY"]):
        status, error = adobe.call("POST", "/external-audience", request(), {"Authorization": f"Bearer {token}"})
        assert (status, error["report"]["errorCode"]) == (400, "100911-400")
    status, error = adobe.call("POST", "/external-audience", request(), {"x-gw-ims-org-id": "acme@AdobeOrg"})
    assert (status, error["report"]["errorCode"]) == (401, "100921-401")
    assert adobe.call("GET", "/external-audience/x", headers={"x-gw-ims-org-id": "demo"})[0] == 404  # plain form ok
    status, error = adobe.call("POST", "/external-audience", request(), {"x-sandbox-name": "Prod Sandbox"})
    assert (status, error["report"]["details"]) == (
        400,
        [{"field": "x-sandbox-name", "reason": error["report"]["details"][0]["reason"]}],
    )
    assert stores().catalog.list_audiences("demo") == []


def test_an_invalid_create_lists_every_problem_and_creates_nothing(adobe):
    bad = request(
        name="",
        fields=[{"name": "a", "type": "text"}, {"name": "a", "type": "string"}],
        sourceSpec={"path": "has space.csv", "type": "bucket"},
        ttlInDays=0,
        audienceType="accounts",
        originName="UPLOAD",
        colour="red",
    )
    status, error = adobe.call("POST", "/external-audience", bad)
    assert (status, error["report"]["errorCode"]) == (400, "100910-400")
    fields = {detail["field"] for detail in error["report"]["details"]}
    assert fields == {
        "colour",
        "name",
        "fields[0].type",
        "fields[1].name",
        "fields",
        "sourceSpec.path",
        "sourceSpec.type",
        "ttlInDays",
        "audienceType",
        "originName",
    }
    assert stores().catalog.list_audiences("demo") == []


def test_an_identity_namespace_the_tenant_lacks_is_a_422_naming_those_it_has(adobe):
    fields = [{"name": "id", "type": "string", "identityNs": "ECID"}]
    status, error = adobe.call("POST", "/external-audience", request(fields=fields))
    assert (status, error["report"]["errorCode"], error["title"]) == (422, "100960-422", "UNPROCESSABLE_ENTITY")
    assert "email, fs_user_id" in error["detail"]  # vuid is low-confidence: users cannot be named by it
    upper = [{"name": "id", "type": "string", "identityNs": "Email"}]
    assert adobe.call("POST", "/external-audience", request(fields=upper))[0] == 202


def test_unknown_paths_are_adobes_404_and_bodies_are_bounded(adobe):
    status, error = adobe.call("GET", "/segment/jobs")
    assert (status, error["report"]["errorCode"]) == (404, "100940-404")
    status, error = adobe.call("POST", "/external-audience", {"name": "x" * (1024 * 1024)})
    assert (status, error["status"]) == (413, 413)
    status, error = adobe.call("POST", "/external-audience", request(), {"Content-Type": "text/plain"})
    assert status == 415


@pytest.mark.parametrize(
    ("which", "body"),
    [
        ("folder", None),
        ("folder", {"fileName": "../x.csv"}),
        ("folder", {"fileName": ".."}),
        ("file", {"fileName": "other.csv"}),
    ],
)
def test_an_upload_url_for_a_file_the_source_spec_cannot_hold_is_a_400(adobe, which, body):
    spec = {"path": "drops", "type": "folder"} if which == "folder" else {"path": "a/b.csv", "type": "file"}
    audience_id = adobe.create(sourceSpec=spec)["operationId"]
    status, error = adobe.call("POST", f"/external-audience/{audience_id}/upload-url", body)
    assert (status, error["report"]["errorCode"]) == (400, "100910-400")
    assert "fileName" in error["detail"]


def test_an_upload_url_of_another_sandbox_is_not_found(api, demo, adobe):
    audience_id = adobe.create()["operationId"]
    dev = Adobe(api, demo["DEMO_PRIVATE_KEY"], sandbox="dev")
    assert dev.call("POST", f"/external-audience/{audience_id}/upload-url")[0] == 404


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"description": "x"}),
        ("DELETE", "", None),
        ("POST", "/upload-url", None),
        ("POST", "/runs", {"dataFilterStartTime": 0}),
        ("GET", "/runs", None),
        ("GET", "/runs/20260101T000000000Z-00000000", None),
    ],
)
def test_every_audience_route_answers_another_tenants_audience_as_missing(api, demo, adobe, method, suffix, body):

    theirs = adobe.create()["operationId"]
    stores().tenants.create_tenant(Tenant.of("other", email=Confidence.HIGH))
    other = Adobe(api, auth.issue_key(Principal("other", Scope.PRIVATE)), org="other")
    status, error = other.call(method, f"/external-audience/{theirs}{suffix}", body)
    assert (status, error["report"]["errorCode"]) == (404, "100940-404")
    assert other.call("POST", f"/external-audience/extend-ttl/{theirs}")[0] == 404
    assert adobe.call("GET", f"/external-audience/{theirs}")[0] == 200  # untouched
