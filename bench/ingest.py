"""Ingest: ODP events and Segment's Tracking API through their handlers, against bare writes on the same moto."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from functools import partial

import boto3

from bench import costs
from bench.harness import (
    LATENCY,
    MEMBERSHIPS,
    TABLE_NAMES,
    T,
    call,
    fresh_aws,
    fresh_transitions,
    lww_update,
    passthrough,
    timed,
)
from local import provision
from local.aws_calls import AWS_CALLS
from local.gateway import Router, proxy_event
from local.key_heat import KEY_HEAT


def bench_ingest(functions, latency: float) -> dict:
    events = fresh_transitions()
    batches = [events[start : start + 500] for start in range(0, len(events), 500)]
    with fresh_aws() as keys:
        router = Router(list(functions.values()))
        call(router, "POST", "/v3/events", keys["DEMO_PUBLIC_KEY"], [passthrough("qualify", "warm", "w", T)])
        AWS_CALLS.reset()
        LATENCY.seconds = latency
        try:
            ours = timed(lambda: [call(router, "POST", "/v3/events", keys["DEMO_PUBLIC_KEY"], b) for b in batches])
            counts = AWS_CALLS.counts()
            dynamodb = boto3.client("dynamodb", region_name=provision.REGION)

            def baseline():
                for event in events:
                    user = event["identifiers"]["fs_user_id"]
                    state = "qualified" if event["action"] == "qualify" else "disqualified"
                    lww_update(
                        dynamodb, f"base#fs_user_id#{user}", event["data"]["audience_id"], state, event["data"]["ts"]
                    )

            base = timed(baseline)
        finally:
            LATENCY.seconds = 0.0
    return {
        "events": len(events),
        "uploads": len(batches),
        "modeled_round_trip_seconds": latency,
        "ours_seconds": ours,
        "baseline_seconds": base,
        "ratio": ours / base,
        "aws_requests_per_event": sum(counts.values()) / len(events),
        "requests": dict(counts),
        "target": "<= 0.05 AWS req/event and ratio <= 1.0"
        if not latency
        else f"ratio <= 0.3 with {latency * 1000:.0f} ms per request in both arms",
    }


def bench_ingest_request_sizes(functions) -> dict:
    """Fresh joins in requests of 1, 10 and 500 events (the SDKs send 1 to 10): AWS requests,
    write units and archive records per upload, and what a million events cost on AWS."""
    from audiences.ports import archive

    results = {}
    for size, uploads in ((1, 200), (10, 40), (500, 4)):
        with fresh_aws() as keys:
            router = Router(list(functions.values()))
            call(router, "POST", "/v3/events", keys["DEMO_PUBLIC_KEY"], [passthrough("qualify", "warm", "w", T)])
            batches = [
                [passthrough("qualify", f"u{n}-{i}", f"aud{i % 20}", T) for i in range(size)] for n in range(uploads)
            ]
            AWS_CALLS.reset()
            KEY_HEAT.reset()
            for batch in batches:
                call(router, "POST", "/v3/events", keys["DEMO_PUBLIC_KEY"], batch)
            counts = AWS_CALLS.counts()
            transactions = counts["dynamodb.TransactWriteItems"] / uploads
            per_upload = {
                "aws_requests": sum(counts.values()) / uploads,
                "transactions": transactions,
                "transaction_rounds": max(1, -(-transactions // 10)),  # 10 in flight
                "items_written": AWS_CALLS.items_written(MEMBERSHIPS) / uploads,
                # the table's and its index's, by item size, as DynamoDB bills them (local/key_heat.py)
                "write_units": KEY_HEAT.overall().write_units / uploads,
                "write_units_by_table": {
                    label: heat.write_units / uploads for label, heat in KEY_HEAT.by_table(TABLE_NAMES).items()
                },
                "archive_records": size,
                "archive_bytes": sum(
                    map(len, archive.records("demo", time.time(), "x" * 32, batches[0], "odp-events"))
                ),
            }
        results[str(size)] = {
            "per_upload": per_upload,
            "aws_requests_per_event": per_upload["aws_requests"] / size,
            "write_units_per_event": per_upload["write_units"] / size,
            "cost_per_million_events": costs.per_million_events(size, per_upload),
            "cost_per_million_events_archived_in_the_transaction": costs.per_million_events(
                size, per_upload, archive_in_transaction=True
            ),
        }
    results["target"] = "1-event requests: <= 1.1 AWS req/event; cost per million events reported"
    results["prices"] = costs.PRICES
    return results


def small_uploads(sizes: dict) -> dict:
    """The SDKs' uploads of 1 and 10 events: AWS requests per event and round trips on the request path,
    today (the archive's Firehose call, then the membership transaction) and in the one design of one
    request (the archive record inside the transaction), with what a million events cost each way."""
    result = {}
    for size in ("1", "10"):
        entry = sizes[size]
        result[size] = {
            "requests_per_event": entry["aws_requests_per_event"],
            "round_trips": 1 + entry["per_upload"]["transaction_rounds"],  # the archive first, then the writes
            "cost_per_million_events": entry["cost_per_million_events"]["total"],
            "one_request_design": {
                "requests_per_event": (entry["per_upload"]["aws_requests"] - 1) / int(size),
                "round_trips": entry["per_upload"]["transaction_rounds"],
                "cost_per_million_events": entry["cost_per_million_events_archived_in_the_transaction"]["total"],
            },
        }
    return {
        "requests_per_event": result["1"]["requests_per_event"],
        "by_events_per_request": result,
        "target": "one round trip and <= 1.1 AWS req/event, or an argument that no design reaches it at equal "
        "or lower cost per million events",
    }


def engage_call(event: dict) -> dict:
    """An ODP passthrough event as Engage says it to Segment's Tracking API: a track of the audience."""
    audience = event["data"]["audience_id"]
    return {
        "type": "track",
        "userId": event["identifiers"]["fs_user_id"],
        "event": "Audience Entered" if event["action"] == "qualify" else "Audience Exited",
        "properties": {"audience_key": audience},
        "context": {"personas": {"computation_class": "audience", "computation_key": audience, "space_id": "spa"}},
        "timestamp": datetime.fromtimestamp(event["data"]["ts"], UTC).isoformat(),
    }


def send_as(arm: str, router: Router, public_key: str, batch: list[dict]) -> None:
    """One request of `batch`: as ODP events to /v3/events, or as Engage tracks to /v1/batch."""
    if arm == "odp":
        call(router, "POST", "/v3/events", public_key, batch)
        return
    target, params = router.match("POST", "/v1/batch")
    write_key = base64.b64encode(f"{public_key}:".encode()).decode()
    headers = [("content-type", "application/json"), ("authorization", f"Basic {write_key}")]
    body = json.dumps({"batch": [engage_call(event) for event in batch]}).encode()
    result = target.function.invoke(proxy_event(target, params, "POST", "/v1/batch", headers, body))
    assert result["statusCode"] == 200, result["body"]


def bench_tracking(functions) -> dict:
    """The 10,000 transitions as Engage tracks to /v1/batch, against the same as ODP events, both
    in requests of 100 (the Segment libraries' default batch), the 50 audiences made beforehand
    (as through Segment's Public API: key = external id)."""
    from audiences import catalog
    from audiences.domain import OPERATOR, Audience

    events = fresh_transitions()
    batches = [events[start : start + 100] for start in range(0, len(events), 100)]
    seconds, counts = {}, {}
    for arm in ("tracking", "odp"):
        with fresh_aws() as keys:
            send = partial(send_as, arm, Router(list(functions.values())), keys["DEMO_PUBLIC_KEY"])
            for audience in {event["data"]["audience_id"] for event in events} | {"w"}:
                catalog.create_audience("demo", Audience(audience, audience), OPERATOR)
            send([passthrough("qualify", "warm", "w", T)])
            AWS_CALLS.reset()
            seconds[arm] = timed(lambda send=send: [send(batch) for batch in batches])
            counts[arm] = AWS_CALLS.counts()
    return {
        "events": len(events),
        "uploads": len(batches),
        "ours_seconds": seconds["tracking"],
        "baseline_seconds": seconds["odp"],
        "ratio": seconds["tracking"] / seconds["odp"],
        "aws_requests_per_event": sum(counts["tracking"].values()) / len(events),
        "odp_aws_requests_per_event": sum(counts["odp"].values()) / len(events),
        "requests": dict(counts["tracking"]),
        "target": "ratio <= 1.2 of the same changes as ODP events; the same AWS requests",
    }
