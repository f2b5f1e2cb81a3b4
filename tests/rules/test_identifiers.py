"""/v3/schema/identifiers through the management handler on moto."""

from __future__ import annotations

import pytest

from tests.integration.helpers import event

LOYALTY = {
    "name": "loyalty_number",
    "display_name": "Loyalty Number",
    "merge_confidence": "high",
    "messaging": False,
    "public_read": False,
}


def test_create_answers_odp_shape_and_events_may_use_it(api, demo):
    from audiences import cache

    reply = api.call("POST", "/v3/schema/identifiers", LOYALTY, key=demo["DEMO_PRIVATE_KEY"])
    assert reply.status == 201
    assert reply.body == {
        "events": [{"name": "event_loyalty_number", "display_name": "Event Loyalty Number", "type": "identifier"}],
        "customers": [{"name": "loyalty_number", "display_name": "Last Seen Loyalty Number", "type": "identifier"}],
    }
    cache.clear_all()  # what AUTH_CACHE_SECONDS does in a warm container
    sent = api.call(
        "POST",
        "/v3/events",
        event("qualify", "L-1", "vip", 1_748_851_070, field="loyalty_number"),
        key=demo["DEMO_PUBLIC_KEY"],
    )
    assert sent.status == 202


def test_list_shows_every_identifier(api, demo):
    api.call("POST", "/v3/schema/identifiers", LOYALTY | {"merge_confidence": "low"}, key=demo["DEMO_PRIVATE_KEY"])
    listed = api.call("GET", "/v3/schema/identifiers", key=demo["DEMO_PRIVATE_KEY"]).body["identifiers"]
    assert [(i["name"], i["merge_confidence"]) for i in listed] == [
        ("email", "high"),
        ("fs_user_id", "high"),
        ("loyalty_number", "low"),
        ("vuid", "low"),
    ]


def test_duplicate_answers_odp_invalids(api, demo):
    key = demo["DEMO_PRIVATE_KEY"]
    api.call("POST", "/v3/schema/identifiers", LOYALTY, key=key)
    reply = api.call("POST", "/v3/schema/identifiers", LOYALTY, key=key)
    assert reply.status == 400
    assert (reply.body["title"], reply.body["status"]) == ("Bad Request", 400)
    assert reply.body["detail"]["invalids"] == [{"field": "customers.name", "reason": "already used by another object"}]
    builtin = api.call(
        "POST", "/v3/schema/identifiers", LOYALTY | {"name": "fs_user_id", "display_name": "FS User ID"}, key=key
    )
    assert builtin.body["detail"]["invalids"][0]["field"] == "customers.name"


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"name": "loyalty"}, "name", "ending in one of _id, _hash, _number, _token, _alias, _address, _key"),
        ({"name": "Loyalty_id", "display_name": "Loyalty ID"}, "name", "must be lower-case"),
        ({"display_name": "Loyalty"}, "display_name", "must end with ' Number', as the name ends in '_number'"),
        ({"merge_confidence": "medium"}, "merge_confidence", "must be 'high' or 'low'"),
        ({"messaging": "yes"}, "messaging", "must be true or false"),
        ({"colour": "red"}, "colour", "unknown field"),
    ],
)
def test_invalid_identifier_names_the_field(api, demo, change, field, reason):
    reply = api.call("POST", "/v3/schema/identifiers", LOYALTY | change, key=demo["DEMO_PRIVATE_KEY"])
    assert reply.status == 400
    [invalid] = reply.body["detail"]["invalids"]
    assert invalid["field"] == field and reason in invalid["reason"]


def test_public_key_may_not_touch_the_schema(api, demo):
    assert api.call("POST", "/v3/schema/identifiers", LOYALTY, key=demo["DEMO_PUBLIC_KEY"]).status == 403
    assert api.call("GET", "/v3/schema/identifiers", key=demo["DEMO_PUBLIC_KEY"]).status == 403
