"""Hostile JSON against every HTTP route of the template, through the local gateway in-process.

Whatever arrives, the answer is never a 5xx, and a refused request changes nothing. In
`make test` the examples are fixed (derandomized) and few; `make fuzz` sets FUZZ_EXAMPLES
and explores new random examples each run.
"""

from __future__ import annotations

import base64
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audiences.ports import Stores
from local.gateway import respond
from tests.conftest import FUNCTIONS
from tests.integration.helpers import customer_query, event, segment

EXAMPLES = os.environ.get("FUZZ_EXAMPLES")
FUZZ = settings(
    max_examples=int(EXAMPLES or 30),
    derandomize=EXAMPLES is None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Every route that reads a body: not GETs, nor the catch-all that only answers "no such path".
ROUTES = sorted(
    {
        (route.method, route.path)
        for function in FUNCTIONS
        for route in function.routes
        if route.method != "GET" and "{proxy+}" not in route.path
    }
)
# A valid body per route, for hostile values to be put into at every position.
VALID = {
    "/v3/events": [event("qualify", "fuzz-user", "fuzz", 1_748_851_070)],
    "/v3/segments/{segment_id}": segment("fuzz", description="d", metadata={"k": "v"}),
    "/v3/schema/identifiers": {
        "name": "fuzz_id",
        "display_name": "Fuzz ID",
        "merge_confidence": "high",
        "messaging": False,
    },
    "/v3/imports/upload-url": {"audience": "fuzz_seg"},
    "/v3/imports/upload-url/complete": {
        "audience": "fuzz_seg",
        "upload_id": "fuzz-upload",
        "parts": [{"part_number": 1, "etag": '"e1"'}, {"part_number": 2, "etag": '"e2"'}],
    },
    "/v3/graphql": customer_query("fuzz-user", ["fuzz_seg"]),
    "/spaces/{space_id}/audiences": {"name": "Fuzz", "description": "d", "enabled": True, "definition": {"q": [1]}},
    "/spaces/{space_id}/audiences/{audience_id}": {"name": "Fuzz", "enabled": False, "definition": None},
    "/data/core/ais/external-audience": {
        "name": "Fuzz",
        "customAudienceId": "fuzz_adobe",
        "fields": [{"name": "email", "type": "string", "identityNs": "email", "labels": ["a"]}],
        "sourceSpec": {"params": {"path": "fuzz/a.csv", "type": "file"}},
        "ttlInDays": "30",
        "originName": "CUSTOM_UPLOAD",
        "labels": ["core/C1"],
    },
    "/data/core/ais/external-audience/{audience_id}/upload-url": {"fileName": "a.csv"},
    "/data/core/ais/external-audience/{audience_id}/runs": {"dataFilterStartTime": 0, "dataFilterEndTime": 10},
    "/data/core/ais/external-audience/extend-ttl/{audience_id}": {},
    "/data/core/ais/external-audience/{audience_id}": {
        "description": "d",
        "labels": ["x"],
        "ttlInDays": 10,
        "fields": [{"name": "email", "labels": ["y"]}],
    },
}
ENGAGE = {"personas": {"computation_class": "audience", "computation_key": "fuzz", "space_id": "spa_fuzz"}}
IDENTIFY = {
    "userId": "fuzz-user",
    "traits": {"fuzz": True, "email": "f@x.io"},
    "context": ENGAGE,
    "timestamp": "2025-12-03T12:00:00Z",
}
TRACK = {"userId": "fuzz-user", "event": "Audience Exited", "properties": {"audience_key": "fuzz"}, "context": ENGAGE}
BATCH = {"batch": [IDENTIFY | {"type": "identify"}, TRACK | {"type": "track"}], "sentAt": "2025-12-03T12:00:01Z"}
VALID |= {
    "/v1/identify": IDENTIFY,
    "/v1/track": TRACK,
    "/v1/page": {"anonymousId": "a", "name": "Home", "properties": {"path": "/"}},
    "/v1/screen": {"userId": 7, "name": "Home"},
    "/v1/group": {"userId": "fuzz-user", "groupId": "g", "traits": {"n": 1}},
    "/v1/alias": {"userId": "fuzz-user", "previousId": "a"},
    "/v1/batch": BATCH,
    "/v1/import": BATCH,
}
COMPLIANCE = [{"identifier_field_name": "email", "identifier_value": "f@x.io", "requester": "dpo@x.io"}]
VALID |= {
    "/regulations": {"regulationType": "SUPPRESS_ONLY", "subjectType": "USER_ID", "subjectIds": ["fuzz-user"]},
    "/regulations/{regulate_id}": {},  # a DELETE: its body is not read
    "/v3/compliance/{framework}/delete": COMPLIANCE,
    "/v3/compliance/{framework}/optout": COMPLIANCE,
    "/data/core/privacy/jobs": {
        "companyContexts": [{"namespace": "imsOrgID", "value": "demo@AdobeOrg"}],
        "users": [
            {
                "key": "k",
                "action": ["access"],
                "userIDs": [{"namespace": "email", "value": "f@x.io", "type": "standard"}],
            }
        ],
        "include": ["profileService"],
        "regulation": "gdpr",
        "expandIds": False,
    },
}
ADOBE_HEADERS = [("x-gw-ims-org-id", "demo"), ("x-sandbox-name", "fuzz")]

hostile_text = st.text(max_size=20) | st.sampled_from(["\ud800", "a\udfffb", "\x00", "\u202e", "x" * 5000])
hostile_scalar = (
    hostile_text
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.sampled_from([1e308, -0.0, True, False, None])
    | st.floats(allow_nan=False, allow_infinity=False)
)
hostile_value = st.recursive(
    hostile_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=12,
)


def paths(document, prefix=()):
    """Every position in a document: each key's value and each list item, and the document itself."""
    yield prefix
    if isinstance(document, dict):
        for key, value in document.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from paths(value, (*prefix, index))


def replaced(document, path, value):
    if not path:
        return value
    copy = json.loads(json.dumps(document))
    holder = copy
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = value
    return copy


def encoded(document) -> bytes:
    """JSON text as a client may send it: surrogates escaped, huge integers spelled out."""
    return json.dumps(document, ensure_ascii=True, allow_nan=False, default=str).encode()


@st.composite
def hostile_bodies(draw, route_path: str) -> bytes:
    kind = draw(st.sampled_from(["nested", "replaced", "raw"]))
    if kind == "nested":
        depth = draw(st.sampled_from([33, 100, 5_000, 100_000]))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        return (opener * depth + "1" + closer * depth).encode()
    if kind == "raw":
        return draw(
            st.sampled_from(
                [
                    b"",
                    b"   ",
                    b"nul",
                    b"NaN",
                    b"[Infinity]",
                    b'{"a": 1',
                    b"\xff\xfe",
                    b'"\\ud800"',
                    b"1" * 5000,
                    b'{"ts": ' + b"9" * 5000 + b"}",
                ]
            )
            | st.binary(max_size=64)
        )
    valid = VALID[route_path]
    path = draw(st.sampled_from(list(paths(valid))))
    return encoded(replaced(valid, path, draw(hostile_value)))


def state(stores: Stores) -> str:
    """Everything every store holds (the rate counters aside)."""
    held = {
        name: {attribute: value for attribute, value in vars(store).items() if attribute not in ("_lock", "_announce")}
        for name, store in vars(stores).items()
        if name != "rate_limits"  # counters of rate-limited routes count refused calls too, as Segment's do
    }
    return repr(held)


@pytest.mark.parametrize(("method", "route_path"), ROUTES, ids=lambda x: x)
def test_hostile_json_never_answers_5xx_and_a_refusal_changes_nothing(api, demo, memory, method, route_path, setting):
    from audiences import catalog
    from audiences.domain import OPERATOR, Audience

    setting("SEGMENT_RATE_LIMITS", "create=100000,update=100000,delete=100000")
    key = demo["DEMO_PUBLIC_KEY"] if route_path in ("/v3/events", "/v3/graphql") else demo["DEMO_PRIVATE_KEY"]
    headers = [("content-type", "application/json"), ("x-api-key", key), ("authorization", f"Bearer {key}")]
    if route_path.startswith("/v1/"):  # Segment's Tracking API: the public key as write key, by Basic auth
        write_key = base64.b64encode(f"{demo['DEMO_PUBLIC_KEY']}:".encode()).decode()
        headers = [("content-type", "application/json"), ("authorization", f"Basic {write_key}")]
    if route_path.startswith("/data/core/privacy/"):
        headers += ADOBE_HEADERS[:1]
    if route_path.startswith("/data/core/ais/"):  # an audience Adobe's dialect sees: made by it, in its sandbox
        headers += ADOBE_HEADERS
        made = VALID["/data/core/ais/external-audience"] | {"name": "Existing", "customAudienceId": "fuzz_existing"}
        _, _, payload = respond(
            api.router, "POST", "/data/core/ais/external-audience", headers, json.dumps(made).encode()
        )
        existing_id = json.loads(payload)["operationId"]
    else:
        existing_id = catalog.create_audience("demo", Audience("fuzz_existing", "fuzz_existing"), OPERATOR).audience_id
    path = (
        route_path.replace("{segment_id}", "fuzz_seg")
        .replace("{space_id}", "demo")
        .replace("{audience_id}", existing_id)
        .replace("{framework}", "ccpa")
        .replace("{regulate_id}", "01a2440c-9480-70d2-8de0-1838e31aa03a")
    )

    @FUZZ
    @given(body=hostile_bodies(route_path))
    def check(body: bytes) -> None:
        before = state(memory)
        status, _, payload = respond(api.router, method, path, headers, body)
        assert status < 500, (status, payload[:300])
        if status != 204:  # every other answer, refusals included, is JSON in the dialect's shape
            json.loads(payload)
        if status >= 400:
            assert state(memory) == before, f"a {status} changed state"

    check()


@st.composite
def checksummed_cursors(draw) -> str:
    """Cursors whose checksum is valid (anyone can make one: it is keyed by the public space id), so
    hostile payloads reach the decoder: JSON of hostile values, raw bytes, and edited positions."""
    from audiences.segment.audiences import _checksum

    position = "2026-01-01T00:00:00.000000+00:00#00000000-0000-4000-8000-000000000000|AUDIENCE#a"
    payload = draw(
        st.builds(lambda value: encoded(value), hostile_value)
        | st.builds(lambda d, v: encoded([d, v]), st.sampled_from(["after", "before"]) | hostile_text, hostile_value)
        | st.builds(
            lambda d, cut, extra: encoded([d, position[:cut] + extra + position[cut:]]),
            st.sampled_from(["after", "before"]),
            st.integers(0, len(position)),
            hostile_text,
        )
        | st.binary(max_size=64)
    )
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + _checksum("demo", payload)


def test_hostile_cursors_with_valid_checksums_are_422_never_5xx(api, demo):
    from urllib.parse import urlencode

    headers = [("authorization", f"Bearer {demo['DEMO_PRIVATE_KEY']}")]
    answers = set()

    @FUZZ
    @given(cursor=checksummed_cursors(), encoding=st.sampled_from(["pagination[cursor]", "pagination.cursor"]))
    def check(cursor: str, encoding: str) -> None:
        status, _, payload = respond(
            api.router, "GET", "/spaces/demo/audiences?" + urlencode({encoding: cursor}), headers, b""
        )
        assert status in (200, 422), (status, payload[:300])
        if status == 422:
            assert [e["field"] for e in json.loads(payload)["errors"]] == ["pagination.cursor"]
        answers.add(status)

    check()
    assert 422 in answers  # the strategy reached the decoder's refusals
