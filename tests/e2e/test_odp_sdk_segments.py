"""The Optimizely Python SDK deciding personalization from the local stack's GraphQL API."""

from __future__ import annotations

import time

from optimizely.optimizely_user_context import OptimizelyUserContext

from tests.e2e.odp_sdk import client

SEGMENTS = {"sdk_seg_gold": "gold_ext", "sdk_seg_churn": "churn_ext", "sdk_seg_new": "new_ext"}


def test_fetch_qualified_segments_follows_qualify_and_disqualify(stack):
    for segment_id, external_id in SEGMENTS.items():
        body = {"definition": {"external": {"external_audience_id": external_id}}}
        assert stack.call("PUT", f"/v3/segments/{segment_id}", key=stack.private_key, json=body).status_code == 200
    now = int(time.time())
    events = [
        {"type": "passthrough", "action": action, "identifiers": {"fs_user_id": "sdk-seg-user"}, "data": data}
        for action, data in [
            ("qualify", {"audience_id": "gold_ext", "ts": now - 20}),
            ("qualify", {"audience_id": "churn_ext", "ts": now - 20}),
            ("disqualify", {"audience_id": "churn_ext", "ts": now - 10}),
        ]
    ]
    assert stack.call("POST", "/v3/events", key=stack.public_key, json=events).status_code == 202

    sdk, log = client(stack.api_url, stack.public_key, segments=list(SEGMENTS))
    try:
        user: OptimizelyUserContext = sdk.create_user_context("sdk-seg-user")
        assert user.fetch_qualified_segments() is True, log.messages
        assert set(user.get_qualified_segments()) == {"sdk_seg_gold"}
        assert user.is_qualified_for("sdk_seg_gold") and not user.is_qualified_for("sdk_seg_churn")
    finally:
        sdk.close()


def test_an_unknown_user_is_the_sdks_invalid_identifier_failure(stack):
    sdk, log = client(stack.api_url, stack.public_key, segments=list(SEGMENTS))
    try:
        user = sdk.create_user_context("sdk-never-seen")
        assert user.fetch_qualified_segments() is False
        assert user.get_qualified_segments() is None
    finally:
        sdk.close()
    assert any("invalid identifier" in message.lower() for message in log.messages), log.messages
