"""Parsing Segment Tracking API calls: which are Engage audience calls, who the user is, and when."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from audiences.domain import Confidence, IdentityMap, State, Tenant, UserRef
from audiences.errors import InvalidInput
from audiences.segment.tracking import MAX_CALL_BYTES, AudienceCall, parse_calls
from local.template import ROOT

NOW = 1_764_763_200.0  # 2025-12-03T12:00:00Z
AT = "2025-12-03T11:00:00.000Z"
AT_TS = NOW - 3600
TENANT = Tenant.of("t", fs_user_id=Confidence.HIGH, email=Confidence.HIGH, vuid=Confidence.LOW)
DOCS = ROOT / "events" / "segment-docs"


def docs_payload(name: str) -> dict:
    """A payload of Segment's docs, byte for byte but for its `//` comments (no string in them holds `//`)."""
    return json.loads(re.sub(r"[ \t]*//[^\n]*", "", (DOCS / name).read_text()))


def sent(document: dict) -> tuple[dict, int]:
    """A body as the handler hands it over: its object, and its size as JSON text."""
    text = json.dumps(document)
    return json.loads(text), len(text.encode())


def personas(key: str) -> dict:
    return {"personas": {"computation_class": "audience", "computation_key": key, "space_id": "spa_1"}}


def identify(key: str = "vip", flag: object = True, **fields) -> dict:
    return {
        "type": "identify",
        "userId": "u1",
        "traits": {key: flag},
        "context": personas(key),
        "timestamp": AT,
    } | fields


def track(event: str = "Audience Entered", key: str = "vip", **fields) -> dict:
    properties = {"audience_key": key, key: event == "Audience Entered"}
    return {"type": "track", "userId": "u1", "event": event, "properties": properties, "timestamp": AT} | fields


def parse(calls: list[dict], tenant: Tenant = TENANT, **batch) -> list[AudienceCall]:
    return parse_calls(*sent({"batch": calls} | batch), "batch", tenant, NOW, 300).audience_calls


def problems(calls: list[dict], tenant: Tenant = TENANT) -> list[tuple[int, str]]:
    with pytest.raises(InvalidInput) as raised:
        parse(calls, tenant)
    return [(problem.where, problem.message) for problem in raised.value.problems]


def test_an_identify_of_an_audience_is_its_trait_true_or_false():
    assert parse([identify(flag=True), identify(flag=False, userId="u2")]) == [
        AudienceCall(UserRef("fs_user_id", "u1"), "vip", State.QUALIFIED, AT_TS),
        AudienceCall(UserRef("fs_user_id", "u2"), "vip", State.DISQUALIFIED, AT_TS),
    ]


def test_a_track_of_an_audience_is_its_event_name():
    assert [(call.key, call.state) for call in parse([track("Audience Entered"), track("Audience Exited")])] == [
        ("vip", State.QUALIFIED),
        ("vip", State.DISQUALIFIED),
    ]


def test_journeys_send_the_flag_as_text():
    call = track(properties={"audience_key": "j_o_first", "j_o_first": "false"}, context=personas("j_o_first"))
    assert [(c.key, c.state) for c in parse([call | {"event": "Step Left"}])] == [("j_o_first", State.DISQUALIFIED)]


def test_a_track_with_personas_but_renamed_events_is_read_by_its_flag():
    call = track(event="Joined VIP", properties={"vip": True}, context=personas("vip"))
    assert [(c.key, c.state) for c in parse([call])] == [("vip", State.QUALIFIED)]


def test_other_calls_are_accepted_and_change_nothing():
    calls = [
        {"type": "page", "userId": "u1", "name": "Home"},
        {"type": "screen", "anonymousId": "a1", "name": "Home"},
        {"type": "group", "userId": "u1", "groupId": "g1"},
        {"type": "alias", "userId": "u1", "previousId": "a1"},
        {"type": "track", "userId": "u1", "event": "Order Completed", "properties": {"vip": True}},
        {"type": "track", "userId": "u1", "event": "Audience Entered"},  # names no audience
        {"type": "identify", "userId": "u1", "traits": {"vip": True}},  # no personas: any trait
        {
            "type": "identify",
            "userId": "u1",
            "traits": {"ltv": 9},
            "context": {"personas": {"computation_class": "trait"}},
        },
    ]
    parsed = parse_calls(*sent({"batch": calls}), "batch", TENANT, NOW, 300)
    assert [c.body for c in parsed.calls] == calls and parsed.audience_calls == [] and parsed.anonymous == []


def test_a_call_names_its_users_through_the_identity_map_and_by_no_other_string():
    tenant = replace(TENANT, identity_map=IdentityMap("fs_user_id", (("email", "email"), ("device", "vuid"))))
    call = {
        "type": "identify",
        "userId": 42,
        "anonymousId": "a1",  # not an identifier of the tenant
        "traits": {"email": "ann@example.com", "name": "fs_user_id", "vip": True},
        "context": {"traits": {"device": "d1", "email": 7}},
    }
    [named] = parse_calls(*sent(call), "identify", tenant, NOW, 300).calls
    assert named.subjects == (UserRef("fs_user_id", "42"), UserRef("email", "ann@example.com"), UserRef("vuid", "d1"))


def test_the_write_key_is_not_kept_with_the_calls():
    parsed = parse_calls(*sent({"userId": "u1", "event": "E", "writeKey": "pa_pub_x"}), "track", TENANT, NOW, 300)
    assert [c.body for c in parsed.calls] == [{"userId": "u1", "event": "E", "type": "track"}]


def test_the_docs_track_payloads_are_audience_calls():
    [personas_call] = parse([docs_payload("engage-track-personas.jsonc")])
    assert personas_call == AudienceCall(UserRef("fs_user_id", "u123"), "first_time_shopper", State.QUALIFIED, NOW)
    [mapping_call] = parse([docs_payload("engage-track.json")])
    assert mapping_call == AudienceCall(UserRef("fs_user_id", "user-123"), "browse_abandoners", State.QUALIFIED, NOW)


def test_the_docs_identify_payloads():
    assert parse([docs_payload("engage-identify.json")]) == []  # no context.personas: an ordinary identify
    # The docs write a placeholder for the audience key that does not match the trait: refused, not guessed.
    assert problems([docs_payload("engage-identify-personas.jsonc")]) == [
        (0, "traits.aud_### must be true or false: an audience's identify says whether the user is in it")
    ]
    # With the key the docs describe ("the configured audience key that appears on user profile"):
    payload = docs_payload("engage-identify-personas.jsonc")
    payload["context"]["personas"]["computation_key"] = "first_time_shopper"
    assert [(c.key, c.state) for c in parse([payload])] == [("first_time_shopper", State.QUALIFIED)]


@pytest.mark.parametrize(
    "call,message",
    [
        ({"type": "identify", "traits": {}}, "userId or anonymousId is required"),
        ({"type": "click", "userId": "u1"}, "type must be one of identify, track, page, screen, group, alias"),
        ({"type": "track", "userId": "u1"}, "a track call needs event"),
        ({"type": "page", "userId": ["u1"]}, "userId must be a string, got"),
        ({"type": "page", "userId": "u1", "properties": []}, "properties must be a JSON object"),
        ({"type": "page", "userId": "u1", "timestamp": 1764763200}, "timestamp must be an ISO 8601 date-time"),
        ({"type": "page", "userId": "u1", "sentAt": "yesterday"}, "sentAt must be an ISO 8601 date-time"),
        (identify(flag="yes"), "traits.vip must be true or false, got"),
        (identify(traits={}), "traits.vip must be true or false: an audience's identify"),
        (identify(context=personas("")), "context.personas.computation_key must name the audience"),
        (track(properties={"audience_key": "vip", "vip": False}), "event 'Audience Entered' contradicts"),
        (track(event="Joined", context=personas("vip"), properties={}), "a track of audience 'vip' must be named"),
        (track(properties={"audience_key": "v\x00"}), "properties.audience_key contains the control character"),
        (track(properties={"audience_key": "v" * 1025}), "properties.audience_key is longer than 1024 bytes"),
        (track(userId="u\n1"), "userId contains the control character U+000A"),
        (track(userId="u" * 1025), "userId is longer than 1024 bytes"),
        (track(timestamp="2025-12-03T13:00:00Z"), "the call's time: ts is more than 300 s in the future"),
        ("not a call", "a call must be a JSON object"),
    ],
)
def test_every_invalid_call_is_named_and_nothing_is_accepted(call, message):
    [(index, got)] = problems([track(), call])
    assert index == 1 and got.startswith(message), got


def test_an_empty_or_missing_batch_is_refused():
    for body in ({"batch": []}, {"calls": [track()]}):
        with pytest.raises(InvalidInput, match="batch must be a non-empty array of calls"):
            parse_calls(*sent(body), "batch", TENANT, NOW, 300)


def test_a_call_of_a_batch_over_32_kb_is_refused():
    huge = track(properties={"audience_key": "vip", "vip": True, "note": "x" * MAX_CALL_BYTES})
    [(index, message)] = problems([track(), huge])
    assert index == 1 and message.startswith(f"a call is at most {MAX_CALL_BYTES} bytes of JSON")


def test_user_id_numbers_are_text():
    [call] = parse([track(userId=42)])
    assert call.user == UserRef("fs_user_id", "42")


def test_without_a_user_id_the_first_mapped_trait_names_the_user():
    tenant = replace(TENANT, identity_map=IdentityMap("fs_user_id", (("email", "email"), ("device", "fs_user_id"))))
    by_trait = identify(userId=None, anonymousId="a1", traits={"vip": True, "email": "e@x.com"})
    by_context = track(userId=None, anonymousId="a1", context={"traits": {"device": "d1", "email": "f@x.com"}})
    assert [call.user for call in parse([by_trait, by_context], tenant)] == [
        UserRef("email", "e@x.com"),
        UserRef("email", "f@x.com"),  # the map's order decides, not the call's
    ]


def test_a_user_id_wins_over_traits_and_goes_to_the_mapped_field():
    tenant = replace(TENANT, identity_map=IdentityMap("email", ()))
    [call] = parse([identify(traits={"vip": True, "email": "e@x.com"}, userId="u@x.com")], tenant)
    assert call.user == UserRef("email", "u@x.com")


def test_an_identifier_the_tenant_cannot_key_memberships_by_says_what_to_configure():
    tenant = Tenant.of("t", customer_id=Confidence.HIGH, vuid=Confidence.LOW)
    [(_, message)] = problems([track()], tenant)
    assert message.startswith("userId names the user as identifier 'fs_user_id' is not configured")
    assert "audience calls need one of: customer_id" in message and "identity-map set" in message
    low = replace(tenant, identity_map=IdentityMap("customer_id", (("vuid", "vuid"),)))
    [(_, message)] = problems([track(userId=None, anonymousId="a", context={"traits": {"vuid": "v"}})], low)
    assert message.startswith("context.traits.vuid names the user as identifier 'vuid' is low-confidence")


def test_an_audience_call_naming_only_an_anonymous_id_is_kept_and_says_so():
    calls = [track(userId=None, anonymousId="a1"), {"type": "page", "anonymousId": "a1"}]
    parsed = parse_calls(*sent({"batch": calls}), "batch", TENANT, NOW, 300)
    assert parsed.audience_calls == [] and len(parsed.calls) == 2
    [(index, message)] = [(p.where, p.message) for p in parsed.anonymous]
    assert index == 0 and "named only by anonymousId: the call is kept, no membership changed" in message
    assert "Send userId (fs_user_id) or one of traits.email (email)" in message


def test_a_mapped_trait_must_be_text():
    [(_, message)] = problems([identify(userId=None, anonymousId="a", traits={"vip": True, "email": 7})])
    assert message == "traits.email names the user: it must be a non-empty string"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


@pytest.mark.parametrize(
    "fields,batch,expected",
    [
        ({}, {}, NOW),  # no time at all: when it arrived
        ({"timestamp": iso(NOW - 60)}, {}, NOW - 60),
        # a client clock an hour fast: receivedAt - (sentAt - timestamp)
        ({"timestamp": iso(NOW + 3600 - 60)}, {"sentAt": iso(NOW + 3600)}, NOW - 60),
        ({"timestamp": iso(NOW + 3600 - 60), "sentAt": iso(NOW + 3600)}, {"sentAt": iso(NOW)}, NOW - 60),
        ({"originalTimestamp": iso(NOW - 90), "timestamp": iso(NOW - 60)}, {}, NOW - 90),
        # delivered by Segment: its timestamp is already corrected, whatever the other fields say
        (
            {"timestamp": iso(NOW - 60), "originalTimestamp": iso(NOW - 10), "sentAt": None, "receivedAt": iso(NOW)},
            {"sentAt": iso(NOW - 5)},
            NOW - 60,
        ),
        ({"timestamp": "2025-12-03T11:59:00"}, {}, NOW - 60),  # no offset: UTC
        ({"timestamp": "2025-12-03T13:59:00+02:00"}, {}, NOW - 60),
    ],
)
def test_the_time_of_a_call_is_corrected_as_segment_does(fields, batch, expected):
    [call] = parse([track(**{"timestamp": None} | fields)], **batch)
    assert call.ts == pytest.approx(expected)


def test_a_single_call_endpoint_gives_the_call_its_type_and_refuses_another():
    call = {name: value for name, value in identify().items() if name != "type"}
    parsed = parse_calls(*sent(call), "identify", TENANT, NOW, 300)
    assert parsed.calls[0].body["type"] == "identify" and parsed.audience_calls[0].state is State.QUALIFIED
    with pytest.raises(InvalidInput, match='a call of type "identify" was sent to /v1/track: send it to the endpoint'):
        parse_calls(*sent(identify()), "track", TENANT, NOW, 300)
