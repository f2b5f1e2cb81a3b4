"""ODP upload-events bodies -> accepted events and membership changes, validated all-or-nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass

from audiences.domain import (
    MAX_IDENTIFIER_BYTES,
    MembershipChange,
    State,
    Tenant,
    UserRef,
    audience_id_problem,
    checked_ts,
    identifier_value_problem,
)
from audiences.errors import InvalidInput, Problem
from audiences.ingest import MAX_EVENT_BYTES
from audiences.json_bodies import decode_json
from audiences.ports.archive import Event

MAX_EVENTS = 500
MAX_BODY_BYTES = 1024 * 1024
MAX_FIELD_NAME_CHARS = 128

PASSTHROUGH = "passthrough"
_ACTIONS = {"qualify": State.QUALIFIED, "disqualify": State.DISQUALIFIED}


class _Invalid(ValueError):
    pass


@dataclass(frozen=True)
class Upload:
    events: list[Event]  # every event as sent, with whom it names: the archive keeps them all
    changes: list[MembershipChange]  # what the passthrough events among them ask for


def parse_events(body: str | None, tenant: Tenant, now: float, max_future_skew: float) -> Upload:
    """The accepted upload, or InvalidInput listing every invalid event by index."""
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

    accepted: list[Event] = []
    changes: list[MembershipChange] = []
    problems: list[Problem] = []
    may_hold_a_huge_event = len(body.encode()) > MAX_EVENT_BYTES  # else no event can be too large
    for index, event in enumerate(events):
        try:
            _check_event(event)
            if may_hold_a_huge_event and len(json.dumps(event, ensure_ascii=False).encode()) > MAX_EVENT_BYTES:
                raise _Invalid(f"an event is at most {MAX_EVENT_BYTES} bytes of JSON: send less data with it")
            if event["type"] == PASSTHROUGH:
                change = _passthrough_change(event, tenant, now, max_future_skew)
                changes.append(change)
                accepted.append(Event(event, (change.user,), change.ts))
            else:
                accepted.append(Event(event, _named(event["identifiers"], tenant)))
        except _Invalid as invalid:
            problems.append(Problem(index, str(invalid)))
    if problems:
        raise InvalidInput(f"{len(problems)} of {len(events)} events are invalid; none was applied", tuple(problems))
    return Upload(events=accepted, changes=changes)


def _named(identifiers: dict[str, str], tenant: Tenant) -> tuple[UserRef, ...]:
    """The users an event names: its identifiers of the tenant's fields, whatever their confidence."""
    return tuple(UserRef(field, value) for field, value in identifiers.items() if field in tenant.identifiers)


def _check_event(event: object) -> None:
    """What every event type must be, passthrough or not."""
    if not isinstance(event, dict):
        raise _Invalid("an event must be a JSON object")
    kind = event.get("type")
    if not isinstance(kind, str) or not kind:
        raise _Invalid("type must be a non-empty string")
    if not isinstance(event.get("action"), str):
        raise _Invalid("action must be a string")
    identifiers = event.get("identifiers")
    if not isinstance(identifiers, dict) or not identifiers:
        raise _Invalid("identifiers must be an object with at least one identifier")
    for field, value in identifiers.items():
        if not field or len(field) > MAX_FIELD_NAME_CHARS:
            raise _Invalid(f"identifier names must be 1 to {MAX_FIELD_NAME_CHARS} characters")
        if not isinstance(value, str) or not value:
            raise _Invalid(f"identifiers.{field} must be a non-empty string")
        if len(value.encode()) > MAX_IDENTIFIER_BYTES:  # any event's envelope; a passthrough's value, below
            raise _Invalid(f"identifiers.{field} is longer than {MAX_IDENTIFIER_BYTES} bytes")
    data = event.get("data", {})
    if not isinstance(data, dict):
        raise _Invalid("data must be a JSON object")
    for name, value in data.items():
        if value is not None and not isinstance(value, str | int | float | bool):
            raise _Invalid(f"data.{name} must be a string, number, boolean or null")


def _passthrough_change(event: dict, tenant: Tenant, now: float, max_future_skew: float) -> MembershipChange:
    action = event["action"]
    if action not in _ACTIONS:
        raise _Invalid(f"action must be 'qualify' or 'disqualify' for passthrough events, got {action!r}")
    data = event.get("data", {})
    try:
        ts = checked_ts(data["ts"], now, max_future_skew) if "ts" in data else now
    except ValueError as error:
        raise _Invalid(f"data.{error}") from error
    return MembershipChange(
        user=_passthrough_user(event["identifiers"], tenant),
        external_id=_audience_id(data.get("audience_id")),
        state=_ACTIONS[action],
        ts=ts,
    )


def _passthrough_user(identifiers: dict[str, str], tenant: Tenant) -> UserRef:
    if len(identifiers) != 1:
        allowed = ", ".join(tenant.high_confidence_identifiers()) or "none configured"
        raise _Invalid(f"a passthrough event names exactly one identifier, got {len(identifiers)} (one of: {allowed})")
    [(field, value)] = identifiers.items()
    if problem := tenant.unusable_identifier_problem(field, "passthrough events"):
        raise _Invalid(problem)
    if problem := identifier_value_problem(value):
        raise _Invalid(f"identifiers.{field} {problem}")
    return UserRef(field, value)


def _audience_id(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise _Invalid("data.audience_id must be a non-empty string naming the audience")
    if problem := audience_id_problem(value):
        raise _Invalid(f"data.audience_id {problem}")
    return value
