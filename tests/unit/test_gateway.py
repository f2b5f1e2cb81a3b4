"""The local gateway's routing and the v1 proxy events it builds."""

from __future__ import annotations

import base64

from local.gateway import Router, proxy_event, respond
from local.lambdas import LocalFunction
from local.template import Function, Route


def function(name: str, *routes: Route, answer=None, calls: list | None = None) -> LocalFunction:
    spec = Function(name, code_dir=None, handler="app.handler", environment={}, memory_mb=128, timeout_seconds=3)
    spec.routes.extend(routes)

    def handler(event, context):
        if calls is not None:
            calls.append(event)
        return answer(event) if answer else {"statusCode": 200, "body": name}

    return LocalFunction(spec, handler)


def test_literal_parts_beat_parameters_and_methods_must_match():
    exact = function("exact", Route("GET", "/v3/segments/special"))
    param = function("param", Route("GET", "/v3/segments/{segment_id}"))
    greedy = function("greedy", Route("ANY", "/files/{proxy+}"))
    router = Router([param, exact, greedy])
    assert router.match("GET", "/v3/segments/special")[0].function is exact
    target, params = router.match("GET", "/v3/segments/vip%20users")
    assert target.function is param and params == {"segment_id": "vip users"}
    assert router.match("PUT", "/v3/segments/vip") is None
    assert router.match("GET", "/v3/segments/a/b") is None
    target, params = router.match("DELETE", "/files/a/b.csv")
    assert target.function is greedy and params == {"proxy": "a/b.csv"}


def test_the_most_specific_resource_decides_before_the_method_as_api_gateway_does():
    listing = function("listing", Route("GET", "/spaces/{space_id}/audiences"))
    greedy = function("greedy", Route("ANY", "/spaces/{proxy+}"))
    router = Router([listing, greedy])
    assert router.match("GET", "/spaces/demo/audiences")[0].function is listing
    assert router.match("PUT", "/spaces/demo/audiences") is None  # not the greedy resource's: API Gateway's 403
    assert router.match("PUT", "/spaces/demo/other")[0].function is greedy


def test_unknown_route_answers_like_api_gateway():
    status, _, body = respond(Router([]), "GET", "/nowhere", [], b"")
    assert (status, body) == (403, b'{"message": "Missing Authentication Token"}')


def test_handler_failure_is_a_502_that_hides_why():
    def boom(event):
        raise RuntimeError("secret detail")

    router = Router([function("f", Route("POST", "/x"), answer=boom)])
    status, _, body = respond(router, "POST", "/x", [], b"")
    assert (status, body) == (502, b'{"message": "Internal server error"}')


def test_proxy_event_carries_everything_a_v1_event_has():
    target = Router([function("f", Route("POST", "/v3/segments/{segment_id}"))]).targets[0]
    headers = [("X-Api-Key", "k"), ("Accept", "a"), ("Accept", "b")]
    event = proxy_event(target, {"segment_id": "vip"}, "POST", "/v3/segments/vip?x=1&x=2&y=", headers, b'{"a":1}')
    assert event["resource"] == "/v3/segments/{segment_id}"
    assert event["path"] == "/v3/segments/vip"
    assert event["headers"] == {"X-Api-Key": "k", "Accept": "b"}
    assert event["multiValueHeaders"]["Accept"] == ["a", "b"]
    assert event["queryStringParameters"] == {"x": "2", "y": ""}
    assert event["multiValueQueryStringParameters"]["x"] == ["1", "2"]
    assert event["pathParameters"] == {"segment_id": "vip"}
    assert event["requestContext"]["stage"] == "live"
    assert (event["body"], event["isBase64Encoded"]) == ('{"a":1}', False)


def test_binary_bodies_travel_base64_encoded_both_ways():
    payload = b"\x1f\x8b\xff"
    answer = {"statusCode": 200, "body": base64.b64encode(payload).decode(), "isBase64Encoded": True}
    calls = []
    local = function("f", Route("POST", "/bin"), answer=lambda event: answer, calls=calls)
    status, _, body = respond(Router([local]), "POST", "/bin", [], payload)
    assert calls[0]["isBase64Encoded"] is True
    assert base64.b64decode(calls[0]["body"]) == payload
    assert (status, body) == (200, payload)


def test_response_headers_include_multi_value_ones():
    answer = {"statusCode": 201, "headers": {"A": "1"}, "multiValueHeaders": {"B": ["2", "3"]}, "body": ""}
    status, headers, _ = respond(
        Router([function("f", Route("GET", "/h"), answer=lambda e: answer)]), "GET", "/h", [], b""
    )
    assert status == 201 and headers == [("A", "1"), ("B", "2"), ("B", "3")]


def test_a_method_no_api_gateway_resource_can_have_is_its_unknown_route_answer_even_under_any():
    greedy = function("greedy", Route("ANY", "/spaces/{proxy+}"))
    exact = function("exact", Route("GET", "/v3/graphql"))
    router = Router([greedy, exact])
    for method in ("TRACE", "CONNECT", "PROPFIND", "FOO", "get"):
        for path in ("/spaces/demo/x", "/v3/graphql", "/nowhere"):
            status, headers, body = respond(router, method, path, [], b"")
            assert (status, body) == (403, b'{"message": "Missing Authentication Token"}'), (method, path)
            assert ("x-amzn-ErrorType", "MissingAuthenticationTokenException") in headers
    assert router.match("HEAD", "/spaces/demo/x")[0].function is greedy  # ANY is the seven methods
