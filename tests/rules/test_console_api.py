"""The operator console's API on moto: audiences of every dialect, sizes over time, activity, customers."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from audiences import auth
from audiences.domain import Confidence, Principal, Scope, Tenant
from audiences.wiring import stores
from local.gateway import respond
from tests.imports_helpers import T, csv_gz, drain, upload
from tests.integration.helpers import event, segment


@pytest.fixture
def console(api, demo, functions):
    key = demo["DEMO_PRIVATE_KEY"]

    def get(path: str, with_key: str | None = key):
        return api.call("GET", "/console/api/" + path, key=with_key)

    assert api.call("PUT", "/v3/segments/vip_users", segment("vip"), key=key).status == 200
    drain(functions)  # S3's test event from provisioning
    return get


def test_audiences_of_every_dialect_with_exact_sizes_origin_and_last_change(api, demo, console):
    segment_headers = [("content-type", "application/json"), ("authorization", f"Bearer {demo['DEMO_PRIVATE_KEY']}")]
    status, _, _ = respond(api.router, "POST", "/spaces/demo/audiences", segment_headers, b'{"name": "Churn risk"}')
    assert status == 200
    events = [event("qualify", f"user-{n}", "vip", T + n) for n in range(3)]
    assert api.call("POST", "/v3/events", events, key=demo["DEMO_PUBLIC_KEY"]).status == 202

    reply = console("audiences")

    assert reply.status == 200
    rows = {row["key"]: row for row in reply.body["audiences"]}
    assert {key: (row["size"], row["origin"], row["enabled"]) for key, row in rows.items()} == {
        "vip_users": (3, "odp", True),
        "churn_risk": (0, "segment", True),
    }
    assert rows["churn_risk"]["updated_at"] and rows["churn_risk"]["updated_by"]
    assert [row["name"] for row in reply.body["audiences"]] == ["Churn risk", "vip_users"]  # by name


def test_a_size_history_has_a_point_per_successful_import_then_now(api, demo, console, functions):
    upload(csv_gz(["a", "b", "c"]))
    drain(functions)
    upload(csv_gz(["a"], ts=T + 10))
    drain(functions)
    assert (
        api.call("POST", "/v3/events", [event("qualify", "z", "vip", T + 20)], key=demo["DEMO_PUBLIC_KEY"]).status
        == 202
    )
    audience_id = console("audiences").body["audiences"][0]["audience_id"]

    reply = console(f"audiences/{audience_id}/sizes")

    assert reply.status == 200
    assert [(p["source"], p["size"]) for p in reply.body["points"]] == [("import", 3), ("import", 1), ("now", 2)]
    assert [p["at"] for p in reply.body["points"]] == sorted(p["at"] for p in reply.body["points"])


def test_activity_shows_counts_and_the_line_numbered_errors_of_a_failed_file(console, functions):
    upload(csv_gz(["a", "b"]))
    drain(functions)
    upload(csv_gz(["ok", "", "also ok"], ts=T + 10))  # line 3 names no user
    drain(functions)

    reply = console("activity")

    assert reply.status == 200
    failed, succeeded = reply.body["activity"]
    assert (succeeded["status"], succeeded["kind"], succeeded["qualified"], succeeded["size_after"]) == (
        "SUCCESS",
        "file",
        2,
        2,
    )
    assert failed["status"] == "FAILED" and failed["error_count"] == 1
    assert [e["line"] for e in failed["errors"]] == [3]
    assert failed["errors"][0]["message"]
    cursor = console("activity?limit=1").body["next_cursor"]
    assert [r["import_id"] for r in console(f"activity?limit=1&cursor={quote(cursor)}").body["activity"]] == [
        succeeded["import_id"]
    ]


def test_a_customer_lookup_says_which_audiences_and_since_when(api, demo, console):
    assert (
        api.call("POST", "/v3/events", [event("qualify", "ann", "vip", T)], key=demo["DEMO_PUBLIC_KEY"]).status == 202
    )

    ann = console("customers?field=fs_user_id&value=ann").body
    nobody = console("customers?field=fs_user_id&value=nobody").body

    assert [(a["key"], a["since"]) for a in ann["audiences"]] == [("vip_users", "2025-06-02T07:57:50Z")]
    assert ann["known"] is True
    assert (nobody["known"], nobody["audiences"]) == (False, [])


@pytest.mark.parametrize(
    "path,status,words",
    [
        ("customers?field=shoe_size&value=9", 400, "'shoe_size' is not an identifier field of this tenant"),
        ("customers?field=fs_user_id", 400, "value: Field required"),
        ("activity?limit=0", 400, "limit: Input should be greater than or equal to 1"),
        ("activity?cursor=not-a-cursor", 400, "cursor is not one this API returned"),
        ("audiences/no-such-id/sizes", 404, "does not exist"),
    ],
)
def test_bad_requests_say_what_is_wrong_in_the_console_shape(console, path, status, words):
    reply = console(path)

    assert reply.status == status
    assert reply.body["error"]["status"] == status and words in reply.body["error"]["message"]


def test_only_the_console_files_are_served(api):
    reply = api.call("GET", "/console/app.py")

    assert reply.status == 404 and reply.body["error"]["message"] == "no such file: /console/app.py"


@pytest.mark.parametrize("which", ["none", "wrong", "public"])
def test_only_a_private_key_signs_in(console, demo, which):
    key = {"none": None, "wrong": "not-a-key", "public": demo["DEMO_PUBLIC_KEY"]}[which]

    reply = console("audiences", with_key=key)

    assert reply.status == 401 and "sign in with a private key" in reply.body["error"]["message"]


def test_another_tenants_audience_is_not_found(console):
    stores().tenants.create_tenant(Tenant.of("other", fs_user_id=Confidence.HIGH))
    other_key = auth.issue_key(Principal("other", Scope.PRIVATE))
    audience_id = console("audiences").body["audiences"][0]["audience_id"]

    assert console(f"audiences/{audience_id}/sizes", with_key=other_key).status == 404
    assert console("audiences", with_key=other_key).body["audiences"] == []


def test_the_origin_is_the_dialect_that_created_it_and_an_odp_put_keeps_it(api, demo, console):
    headers = [("content-type", "application/json"), ("authorization", f"Bearer {demo['DEMO_PRIVATE_KEY']}")]
    status, _, _ = respond(api.router, "POST", "/spaces/demo/audiences", headers, b'{"name": "Lapsed"}')
    assert status == 200
    put = api.call(
        "PUT", "/v3/segments/lapsed", segment("lapsed", description="now ODP's"), key=demo["DEMO_PRIVATE_KEY"]
    )
    assert put.status == 200

    rows = {row["key"]: row for row in console("audiences").body["audiences"]}

    assert (rows["lapsed"]["origin"], rows["vip_users"]["origin"]) == ("segment", "odp")
