"""POST /v3/graphql through the GraphQL handler on moto."""

from __future__ import annotations

from tests.integration.helpers import CUSTOMER_QUERY, audience_names, customer_query, event, segment

T = 1_748_851_070


def setup_audiences(api, demo, *pairs: tuple[str, str]) -> None:
    for segment_id, external_id in pairs:
        assert (
            api.call("PUT", f"/v3/segments/{segment_id}", segment(external_id), key=demo["DEMO_PRIVATE_KEY"]).status
            == 200
        )


def send(api, demo, *events) -> None:
    assert api.call("POST", "/v3/events", list(events), key=demo["DEMO_PUBLIC_KEY"]).status == 202


def query(api, demo, body):
    reply = api.call("POST", "/v3/graphql", body, key=demo["DEMO_PUBLIC_KEY"])
    assert reply.status == 200
    return reply.body


def test_lists_qualified_audiences_by_segment_id(api, demo):
    setup_audiences(api, demo, ("vip_users", "vip"), ("churn_risk", "churn"), ("newsletter", "news"))
    send(
        api,
        demo,
        event("qualify", "u1", "vip", T),
        event("qualify", "u1", "churn", T),
        event("qualify", "u2", "news", T),
    )
    body = query(api, demo, customer_query("u1"))
    assert audience_names(body) == ["churn_risk", "vip_users"]
    assert {edge["node"]["state"] for edge in body["data"]["customer"]["audiences"]["edges"]} == {"qualified"}


def test_subset_restricts_the_answer(api, demo):
    setup_audiences(api, demo, ("vip_users", "vip"), ("churn_risk", "churn"))
    send(api, demo, event("qualify", "u1", "vip", T), event("qualify", "u1", "churn", T))
    assert audience_names(query(api, demo, customer_query("u1", subset=["vip_users", "unknown"]))) == ["vip_users"]


def test_disqualified_audience_disappears(api, demo):
    setup_audiences(api, demo, ("vip_users", "vip"))
    send(api, demo, event("qualify", "u1", "vip", T))
    send(api, demo, event("disqualify", "u1", "vip", T + 1))
    assert audience_names(query(api, demo, customer_query("u1"))) == []


def test_events_before_the_audience_exists_count_once_it_does(api, demo):
    send(api, demo, event("qualify", "u1", "vip", T))
    assert audience_names(query(api, demo, customer_query("u1"))) == []
    setup_audiences(api, demo, ("vip_users", "vip"))
    assert audience_names(query(api, demo, customer_query("u1"))) == ["vip_users"]


def test_inline_literal_arguments_work(api, demo):
    setup_audiences(api, demo, ("vip_users", "vip"))
    send(api, demo, event("qualify", "u1", "vip", T))
    body = query(api, demo, {"query": '{customer(fs_user_id : "u1") {audiences {edges {node {name state}}}}}'})
    assert audience_names(body) == ["vip_users"]


def test_unknown_customer_answers_odp_invalid_identifier(api, demo):
    body = query(api, demo, customer_query("nobody"))
    assert body["data"] == {"customer": None}
    [error] = body["errors"]
    assert error["path"] == ["customer"]
    assert error["locations"] == [{"line": 1, "column": CUSTOMER_QUERY.index("customer") + 1}]
    assert error["extensions"] == {"classification": "DataFetchingException", "code": "INVALID_IDENTIFIER_EXCEPTION"}


def test_other_identifier_fields_are_separate_users(api, demo):
    setup_audiences(api, demo, ("vip_users", "vip"))
    send(api, demo, event("qualify", "a@example.com", "vip", T, field="email"))
    body = query(api, demo, {"query": '{customer(email: "a@example.com") {audiences {edges {node {name}}}}}'})
    assert audience_names(body) == ["vip_users"]
    body = query(api, demo, {"query": '{customer(fs_user_id: "a@example.com") {audiences {edges {node {name}}}}}'})
    assert body["errors"][0]["extensions"]["code"] == "INVALID_IDENTIFIER_EXCEPTION"


def test_exactly_one_identifier_argument(api, demo):
    body = query(api, demo, {"query": '{customer(fs_user_id: "u1", email: "e") {audiences {edges {node {name}}}}}'})
    assert body["errors"][0]["message"] == "customer takes exactly one identifier argument, got 2"
    assert body["errors"][0]["extensions"]["classification"] == "ValidationError"


def test_errors_are_classified(api, demo):
    syntax = query(api, demo, {"query": "{customer(fs_user_id: "})
    assert syntax["errors"][0]["extensions"]["classification"] == "InvalidSyntax"
    unknown_field = query(api, demo, {"query": '{customer(phone_id: "1") {audiences {edges {node {name}}}}}'})
    assert unknown_field["errors"][0]["extensions"]["classification"] == "ValidationError"


def test_non_json_body_is_400_and_bad_key_403(api, demo):
    reply = api.call("POST", "/v3/graphql", raw="query {", key=demo["DEMO_PUBLIC_KEY"])
    assert reply.status == 400
    assert "not valid JSON" in reply.body["errors"][0]["message"]
    assert api.call("POST", "/v3/graphql", customer_query("u1"), key="nope").status == 403


def test_another_tenant_sees_nothing(api, demo):
    from audiences import auth
    from audiences.domain import Confidence, Principal, Scope, Tenant
    from audiences.stores import tenants

    setup_audiences(api, demo, ("vip_users", "vip"))
    send(api, demo, event("qualify", "u1", "vip", T))
    tenants.create_tenant(Tenant.of("other", fs_user_id=Confidence.HIGH))
    other_key = auth.issue_key(Principal("other", Scope.PUBLIC))
    reply = api.call("POST", "/v3/graphql", customer_query("u1"), key=other_key)
    assert reply.body["errors"][0]["extensions"]["code"] == "INVALID_IDENTIFIER_EXCEPTION"
