"""Each reported reproduction of hostile input answers a clear 4xx in the dialect's shape."""

from __future__ import annotations

import json

import pytest

from tests.integration.helpers import customer_query, event, segment

T = 1_748_851_070


def post_raw(api, path: str, text: str, key: str, method: str = "POST", content_type: str = "application/json"):
    from local.gateway import respond

    headers = [("content-type", content_type), ("x-api-key", key)]
    status, _, payload = respond(api.router, method, path, headers, text.encode())
    return status, json.loads(payload)


def escaped(document) -> str:
    return json.dumps(document, ensure_ascii=True)


@pytest.mark.parametrize(
    ("where", "document"),
    [
        ("[0].identifiers.fs_user_id", [event("qualify", "\ud800", "vip", T)]),
        ("[0].data.audience_id", [event("qualify", "u1", "a\ud800", T)]),
    ],
)
def test_a_lone_surrogate_in_an_event_is_a_400_naming_where(api, demo, where, document):
    status, body = post_raw(api, "/v3/events", escaped(document), demo["DEMO_PUBLIC_KEY"])
    assert status == 400
    assert body["title"] == "Bad Request"
    assert (
        body["detail"]["message"].startswith("the request body holds a lone UTF-16 surrogate")
        and where in (body["detail"]["message"])
    )


@pytest.mark.parametrize(
    "document",
    [segment("vip", description="\udfff"), segment("a\ud800b")],
    ids=["description", "external-id"],
)
def test_a_lone_surrogate_in_a_segment_is_a_400_not_a_codec_message(api, demo, document):
    status, body = post_raw(api, "/v3/segments/vip", escaped(document), demo["DEMO_PRIVATE_KEY"], method="PUT")
    assert status == 400
    assert body["code"] == 400 and "lone UTF-16 surrogate" in body["message"]
    assert "codec" not in body["message"]


@pytest.mark.parametrize(
    ("path", "method", "key", "depth"),
    [
        ("/v3/events", "POST", "DEMO_PUBLIC_KEY", 100_000),
        ("/v3/segments/vip", "PUT", "DEMO_PRIVATE_KEY", 30_000),  # within the 64 KiB body limit
        ("/v3/segments/vip", "PUT", "DEMO_PRIVATE_KEY", 33),
    ],
)
def test_deeply_nested_json_is_a_400(api, demo, path, method, key, depth):
    status, body = post_raw(api, path, "[" * depth + "]" * depth, demo[key], method=method)
    assert status == 400
    assert "nests arrays and objects more than 32 levels deep" in json.dumps(body)


def test_deeply_nested_graphql_variables_are_refused_in_graphql_shape(api, demo):
    text = '{"query": "{audiences {edges {cursor}}}", "variables": {"v": ' + "[" * 30_000 + "]" * 30_000 + "}}"
    status, body = post_raw(api, "/v3/graphql", text, demo["DEMO_PUBLIC_KEY"])
    assert status == 400
    assert "more than 32 levels deep" in body["errors"][0]["message"]


def test_nesting_up_to_the_limit_is_accepted(api, demo):
    document = customer_query("u1")
    nested: object = "x"
    for _ in range(30):  # + the request object and variables: 32 levels
        nested = [nested]
    document["variables"]["deep"] = nested
    status, body = post_raw(api, "/v3/graphql", json.dumps(document), demo["DEMO_PUBLIC_KEY"])
    assert status == 200 and "errors" in body  # an unknown customer: the body itself was read


def test_segments_refuse_a_body_that_says_it_is_not_json_as_events_and_graphql_do(api, demo):
    body = json.dumps(segment("vip"))
    for method, path, key in [
        ("PUT", "/v3/segments/vip", "DEMO_PRIVATE_KEY"),
        ("POST", "/v3/segments/vip", "DEMO_PRIVATE_KEY"),
        ("POST", "/v3/events", "DEMO_PUBLIC_KEY"),
        ("POST", "/v3/graphql", "DEMO_PUBLIC_KEY"),
    ]:
        status, answer = post_raw(api, path, body, demo[key], method=method, content_type="text/plain")
        assert status == 415, (method, path)
        assert "Content-Type must be application/json, got 'text/plain'" in json.dumps(answer)


@pytest.mark.parametrize("value", ["a\x00b", "tab\there", "del\x7f", "c1\x85"])
def test_control_characters_in_identifiers_and_audience_ids_are_refused(api, demo, value):
    for document, where in [
        (event("qualify", value, "vip", T), "identifiers.fs_user_id"),
        (event("qualify", "u1", value, T), "data.audience_id"),
    ]:
        status, body = post_raw(api, "/v3/events", json.dumps(document), demo["DEMO_PUBLIC_KEY"])
        assert status == 400
        [invalid] = body["detail"]["invalids"]
        assert invalid["message"].startswith(f"{where} contains the control character U+")


def test_an_external_id_with_a_control_character_is_refused_as_events_would_refuse_it(api, demo):
    status, body = post_raw(api, "/v3/segments/vip", json.dumps(segment("vip\x00")), demo["DEMO_PRIVATE_KEY"], "PUT")
    assert status == 400
    assert "external.external_audience_id contains the control character U+0000" in json.dumps(body)
    assert post_raw(api, "/v3/segments/vip", "", demo["DEMO_PRIVATE_KEY"], "GET")[0] == 404
