"""ODP upload-events bodies -> membership changes, validated all-or-nothing."""

from __future__ import annotations

from audiences.domain import Confidence, MembershipChange, State, Tenant, UserRef, checked_ts
from audiences.errors import InvalidInput, Problem
from audiences.odp.body import decode_json

MAX_EVENTS = 500
# DynamoDB keys: a partition key holds 2048 bytes (tenant and field come first), a sort key 1024.
MAX_IDENTIFIER_BYTES = 1024
MAX_AUDIENCE_ID_BYTES = 1024

_ACTIONS = {"qualify": State.QUALIFIED, "disqualify": State.DISQUALIFIED}


class _Invalid(ValueError):
    pass


def parse_events(body: str | None, tenant: Tenant, now: float, max_future_skew: float) -> list[MembershipChange]:
    """Every change the body asks for, or InvalidInput listing every invalid event by index."""
    document = decode_json(body)
    if isinstance(document, dict):
        events = [document]
    elif isinstance(document, list):
        events = document
    else:
        raise InvalidInput("the body must be one event object or a JSON array of events")
    if not events:
        raise InvalidInput("the array of events is empty: send at least one event")
    if len(events) > MAX_EVENTS:
        raise InvalidInput(f"a request holds at most {MAX_EVENTS} events, got {len(events)}: split the batch")

    changes: list[MembershipChange] = []
    problems: list[Problem] = []
    for index, event in enumerate(events):
        try:
            changes.append(_parse_event(event, tenant, now, max_future_skew))
        except _Invalid as invalid:
            problems.append(Problem(index, str(invalid)))
    if problems:
        raise InvalidInput(f"{len(problems)} of {len(events)} events are invalid; none was applied", tuple(problems))
    return changes


def _parse_event(event: object, tenant: Tenant, now: float, max_future_skew: float) -> MembershipChange:
    if not isinstance(event, dict):
        raise _Invalid("an event must be a JSON object")
    kind = event.get("type")
    if not isinstance(kind, str) or not kind:
        raise _Invalid("type must be a non-empty string")
    if kind != "passthrough":
        raise _Invalid(f"type {kind!r} is not supported: only passthrough events are accepted")
    action = event.get("action")
    if action not in _ACTIONS:
        raise _Invalid(f"action must be 'qualify' or 'disqualify' for passthrough events, got {action!r}")
    data = event.get("data", {})
    if not isinstance(data, dict):
        raise _Invalid("data must be a JSON object")
    try:
        ts = checked_ts(data["ts"], now, max_future_skew) if "ts" in data else now
    except ValueError as error:
        raise _Invalid(f"data.{error}") from error
    return MembershipChange(
        user=_user(event.get("identifiers"), tenant),
        external_id=_audience_id(data.get("audience_id")),
        state=_ACTIONS[action],
        ts=ts,
    )


def _user(identifiers: object, tenant: Tenant) -> UserRef:
    allowed = ", ".join(tenant.high_confidence_identifiers()) or "none configured"
    if not isinstance(identifiers, dict) or not identifiers:
        raise _Invalid(f"identifiers must be an object naming one identifier (one of: {allowed})")
    if len(identifiers) != 1:
        raise _Invalid(f"a passthrough event names exactly one identifier, got {len(identifiers)} (one of: {allowed})")
    [(field, value)] = identifiers.items()
    if tenant.identifiers.get(field) is not Confidence.HIGH:
        why = "is low-confidence" if field in tenant.identifiers else "is not configured"
        raise _Invalid(f"identifier {field!r} {why}; passthrough events need one of: {allowed}")
    if not isinstance(value, str) or not value:
        raise _Invalid(f"identifiers.{field} must be a non-empty string")
    if len(value.encode()) > MAX_IDENTIFIER_BYTES:
        raise _Invalid(f"identifiers.{field} is longer than {MAX_IDENTIFIER_BYTES} bytes")
    return UserRef(field, value)


def _audience_id(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise _Invalid("data.audience_id must be a non-empty string naming the audience")
    if len(value.encode()) > MAX_AUDIENCE_ID_BYTES:
        raise _Invalid(f"data.audience_id is longer than {MAX_AUDIENCE_ID_BYTES} bytes")
    return value
