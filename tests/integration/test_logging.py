"""Logs and metrics say what happened without ever saying who, or with which key."""

from __future__ import annotations

import io
import json
import logging

import pytest

from tests.aws_calls import AWS_FAULTS
from tests.integration.helpers import customer_query, event, segment

T = 1_748_851_070
SECRET_USER = "secret-user-4711@example.com"


@pytest.fixture
def log_lines():
    """What the functions log, formatted exactly as Powertools ships it to CloudWatch."""
    service_logger = logging.getLogger("passthrough-audiences")
    [powertools_handler] = service_logger.handlers
    buffer = io.StringIO()
    recorder = logging.StreamHandler(buffer)
    recorder.setFormatter(powertools_handler.formatter)
    service_logger.addHandler(recorder)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    service_logger.removeHandler(recorder)


def metric_lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]


def test_no_key_or_identifier_value_reaches_the_logs(api, demo, log_lines):
    public, private = demo["DEMO_PUBLIC_KEY"], demo["DEMO_PRIVATE_KEY"]
    api.call("PUT", "/v3/segments/vip_users", segment("vip"), key=private)
    api.call("POST", "/v3/events", event("qualify", SECRET_USER, "vip", T, field="email"), key=public)
    api.call("POST", "/v3/events", event("qualify", SECRET_USER, "vip", T * 1000, field="email"), key=public)
    api.call("POST", "/v3/events", event("qualify", SECRET_USER, "vip", T), key="pa_pub_" + SECRET_USER)
    api.call("POST", "/v3/graphql", customer_query(SECRET_USER), key=public)
    AWS_FAULTS.arm(0, "before")
    try:
        assert (
            api.call(
                "POST", "/v3/events", event("qualify", SECRET_USER, "vip", T + 1, field="email"), key=public
            ).status
            == 500
        )
    finally:
        AWS_FAULTS.disarm()
    lines = log_lines()
    assert any(line.get("message") == "request failed" for line in lines)  # the crash was logged...
    text = json.dumps(lines)
    for secret in (SECRET_USER, public, private):
        assert secret not in text  # ...and nothing logged names the user or a key


def test_ingest_emits_emf_metrics_for_what_it_did(api, demo, capsys):
    key = demo["DEMO_PUBLIC_KEY"]
    api.call("POST", "/v3/events", [event("qualify", "u1", "vip", T), event("qualify", "u2", "vip", T)], key=key)
    api.call(
        "POST", "/v3/events", [event("disqualify", "u1", "vip", T + 1), event("qualify", "u2", "vip", T - 1)], key=key
    )
    api.call("POST", "/v3/events", [event("qualify", "u1", "vip", T), {"type": ""}], key=key)
    metrics = metric_lines(capsys)
    assert [
        (m["EventsReceived"], m["MembershipsQualified"], m["MembershipsDisqualified"], m["EventsStale"])
        for m in metrics[:2]
    ] == [
        ([2.0], [2.0], [0.0], [0.0]),
        ([2.0], [0.0], [1.0], [1.0]),
    ]
    assert metrics[2]["EventsRejected"] == [1.0]
    api.call("POST", "/v3/events", [event("qualify", "u1", "vip", T)], key="not-a-key")
    refused = metric_lines(capsys)
    assert [m["Uploads"] for m in metrics + refused] == [[1.0]] * 4  # refused uploads are counted too
    assert all(m["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "PassthroughAudiences" for m in metrics)
