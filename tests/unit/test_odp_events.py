"""Parsing ODP upload-events bodies: every rule, with the message a client sees."""

from __future__ import annotations

import json

import pytest

from audiences.domain import Confidence, MembershipChange, State, Tenant, UserRef
from audiences.errors import InvalidInput
from audiences.odp.events import MAX_EVENTS, parse_events

NOW = 1_748_851_070.0
TENANT = Tenant.of("t", fs_user_id=Confidence.HIGH, email=Confidence.HIGH, vuid=Confidence.LOW)


def event(**overrides) -> dict:
    base = {
        "type": "passthrough",
        "action": "qualify",
        "identifiers": {"fs_user_id": "u1"},
        "data": {"audience_id": "vip", "ts": NOW},
    }
    return base | overrides


def parse(document) -> list[MembershipChange]:
    return parse_events(json.dumps(document), TENANT, NOW, 300).changes


def problems(document) -> list[tuple[int | str, str]]:
    with pytest.raises(InvalidInput) as raised:
        parse(document)
    return [(problem.where, problem.message) for problem in raised.value.problems]


def test_one_object_and_an_array_both_parse():
    expected = [MembershipChange(UserRef("fs_user_id", "u1"), "vip", State.QUALIFIED, NOW)]
    assert parse(event()) == expected
    assert parse([event()]) == expected


def test_other_event_types_are_accepted_and_kept_but_change_nothing():
    identify = {"type": "fullstack", "action": "identified", "identifiers": {"vuid": "v1", "fs_user_id": "u1"}}
    sdk = {"type": "fullstack", "action": "client_initialized", "identifiers": {"vuid": "v1"}, "data": {"n": None}}
    upload = parse_events(json.dumps([identify, event(), sdk]), TENANT, NOW, 300)
    assert [e.body for e in upload.events] == [identify, event(), sdk]
    assert [change.user for change in upload.changes] == [UserRef("fs_user_id", "u1")]


def test_each_event_names_the_users_of_its_identifiers_of_the_tenants_fields_and_no_other_string():
    other = {
        "type": "qualify",  # an enum word as a type: not an identifier
        "action": "passthrough",
        "identifiers": {"vuid": "v1", "not_a_field": "u9", "fs_user_id": "u1"},
        "data": {"fs_user_id": "u2", "email": "u3"},  # data fields named as identifiers: not identifiers
    }
    dated = event(data={"audience_id": "vip", "ts": NOW - 5})
    upload = parse_events(json.dumps([other, dated]), TENANT, NOW, 300)
    assert [(e.subjects, e.ts) for e in upload.events] == [
        ((UserRef("vuid", "v1"), UserRef("fs_user_id", "u1")), None),
        ((UserRef("fs_user_id", "u1"),), NOW - 5),
    ]


def test_disqualify_and_extra_sdk_data_fields():
    data = {"audience_id": "vip", "ts": NOW - 5, "idempotence_id": "x", "data_source": "python-sdk"}
    [change] = parse(event(action="disqualify", data=data))
    assert (change.state, change.ts) == (State.DISQUALIFIED, NOW - 5)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "the request body is empty"),
        ("  ", "the request body is empty"),
        ("[1,", "the request body is not valid JSON"),
        ('{"ts": NaN}', "NaN is not valid JSON"),
        ('"text"', "one event object or a JSON array"),
        ("[]", "the array of events is empty"),
        (json.dumps([event()] * (MAX_EVENTS + 1)), f"at most {MAX_EVENTS} events, got {MAX_EVENTS + 1}"),
    ],
)
def test_body_level_errors(body, message):
    with pytest.raises(InvalidInput) as raised:
        parse_events(body, TENANT, NOW, 300)
    assert message in raised.value.message


@pytest.mark.parametrize(
    ("bad_event", "message"),
    [
        ("not an object", "an event must be a JSON object"),
        (event(type=""), "type must be a non-empty string"),
        (event(type=7), "type must be a non-empty string"),
        (event(action=None), "action must be a string"),
        (event(type="custom", action=["x"]), "action must be a string"),
        (event(type="custom", identifiers={"vuid": ""}), "identifiers.vuid must be a non-empty string"),
        (event(type="custom", data={"nested": {"a": 1}}), "data.nested must be a string, number, boolean or null"),
        (event(data={"audience_id": "vip", "list": [1]}), "data.list must be a string, number, boolean or null"),
        (event(action="join"), "action must be 'qualify' or 'disqualify' for passthrough events, got 'join'"),
        (event(identifiers={}), "identifiers must be an object with at least one identifier"),
        (event(identifiers={"fs_user_id": "u", "email": "e"}), "exactly one identifier, got 2"),
        (event(identifiers={"vuid": "v"}), "identifier 'vuid' is low-confidence; passthrough events need one of"),
        (event(identifiers={"phone": "1"}), "identifier 'phone' is not configured"),
        (event(identifiers={"fs_user_id": ""}), "identifiers.fs_user_id must be a non-empty string"),
        (event(identifiers={"fs_user_id": 7}), "identifiers.fs_user_id must be a non-empty string"),
        (event(identifiers={"fs_user_id": "x" * 1025}), "longer than 1024 bytes"),
        (event(data=[]), "data must be a JSON object"),
        (event(data={"ts": NOW}), "data.audience_id must be a non-empty string"),
        (event(data={"audience_id": "v", "ts": NOW * 1000}), "data.ts"),
        (event(data={"audience_id": "v", "ts": "soon"}), "data.ts must be epoch seconds as a number, got str"),
    ],
)
def test_event_level_errors_name_the_event(bad_event, message):
    [(where, text)] = problems([event(), bad_event])
    assert where == 1
    assert message in text


def test_every_invalid_event_is_listed():
    listed = problems([event(action="x"), event(), event(type=""), event(data={"ts": 1})])
    assert [where for where, _ in listed] == [0, 2, 3]
