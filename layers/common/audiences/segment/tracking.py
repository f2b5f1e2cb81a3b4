"""Segment's HTTP Tracking API: calls -> the calls to archive and what Engage's audience calls change.

Engage sends an audience to an event destination as Segment Spec calls: an `identify` whose
trait named by `context.personas.computation_key` is true or false, or a `track` named
`Audience Entered`/`Audience Exited` whose `properties.audience_key` names the audience. Those
become membership changes; every other call is only archived. Validation is all-or-nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from audiences import catalog
from audiences.domain import (
    MembershipChange,
    State,
    Tenant,
    UserRef,
    audience_id_problem,
    checked_ts,
    identifier_value_problem,
)
from audiences.errors import InvalidInput, Problem
from audiences.ports.archive import Event

CALL_TYPES = ("identify", "track", "page", "screen", "group", "alias")
MAX_CALL_BYTES = 32 * 1024  # Segment's limits: a call, and a batch of calls
MAX_BATCH_BYTES = 500 * 1024
AUDIENCE_EVENTS = {"Audience Entered": State.QUALIFIED, "Audience Exited": State.DISQUALIFIED}
_FLAGS = {True: State.QUALIFIED, "true": State.QUALIFIED, False: State.DISQUALIFIED, "false": State.DISQUALIFIED}
_OBJECTS = ("context", "traits", "properties", "integrations")
IDENTITY_MAP_HELP = "python -m audiences.admin identity-map set <tenant> --user-id FIELD --trait TRAIT=FIELD"


class _Invalid(ValueError):
    pass


@dataclass(frozen=True)
class AudienceCall:
    """What one call of an Engage audience asks for, its audience named by key."""

    user: UserRef
    key: str
    state: State
    ts: float


@dataclass(frozen=True)
class Calls:
    calls: list[Event]  # every call as sent, of its endpoint's type, without the write key: the archive keeps them
    audience_calls: list[AudienceCall]
    anonymous: list[Problem]  # audience calls naming the user only by anonymousId: archived, changing nothing


def parse_calls(
    document: dict, body_bytes: int, endpoint: str, tenant: Tenant, now: float, max_future_skew: float
) -> Calls:
    """The accepted calls of a request to /v1/<endpoint> (its body's object, of `body_bytes`), or
    InvalidInput listing every invalid call."""
    batch_sent_at = None
    if endpoint == "batch":
        calls = document.get("batch")
        if not isinstance(calls, list) or not calls:
            raise InvalidInput("batch must be a non-empty array of calls")
        try:
            batch_sent_at = _instant(document, "sentAt")
        except _Invalid as invalid:
            raise InvalidInput(str(invalid)) from invalid
    else:
        if document.get("type", endpoint) != endpoint:
            raise InvalidInput(
                f"a call of type {_shown(document['type'])} was sent to /v1/{endpoint}: send it to the endpoint "
                "of its type, or in a batch to /v1/batch"
            )
        calls = [document | {"type": endpoint}]

    accepted: list[Event] = []
    audience_calls: list[AudienceCall] = []
    anonymous: list[Problem] = []
    problems: list[Problem] = []
    may_hold_a_huge_call = body_bytes > MAX_CALL_BYTES  # else no call can be too large
    for index, call in enumerate(calls):
        try:
            _check_call(call, may_hold_a_huge_call)
            kept = {name: value for name, value in call.items() if name != "writeKey"}
            named = _named(call, tenant)
            if (asked := _audience_asked(call)) is None:
                accepted.append(Event(kept, named))
                continue
            key, state = asked
            user = _user(call, tenant)
            ts = _ts(call, batch_sent_at, now, max_future_skew)
            accepted.append(Event(kept, named, ts))
            if user is None:
                anonymous.append(Problem(index, _anonymous_message(key, tenant)))
            else:
                audience_calls.append(AudienceCall(user, key, state, ts))
        except _Invalid as invalid:
            problems.append(Problem(index, str(invalid)))
    if problems:
        raise InvalidInput(f"{len(problems)} of {len(calls)} calls are invalid; none was applied", tuple(problems))
    return Calls(accepted, audience_calls, anonymous)


def membership_changes(tenant_id: str, audience_calls: list[AudienceCall]) -> list[MembershipChange]:
    """The changes, each of the audience whose key is the call's key, else of the external id it is.

    An audience created later with that external id counts the memberships at once; a key no
    audience has is looked up on every request, so one created elsewhere is found at once too.
    """
    if not audience_calls:
        return []  # nor a catalog read: most traffic of a Segment source is not Engage's
    keys = {call.key for call in audience_calls}
    audiences = catalog.audiences_by_key(tenant_id, keys, trust_absent=False)
    return [
        MembershipChange(
            call.user, audiences[call.key].external_id if call.key in audiences else call.key, call.state, call.ts
        )
        for call in audience_calls
    ]


def _check_call(call: object, may_be_huge: bool) -> None:
    """What every call must be, Segment's Spec: a known type, a user, and fields of their types."""
    if not isinstance(call, dict):
        raise _Invalid("a call must be a JSON object")
    kind = call.get("type")
    if kind not in CALL_TYPES:
        raise _Invalid(f"type must be one of {', '.join(CALL_TYPES)}, got {_shown(kind)}")
    if _text_id(call, "userId") is None and _text_id(call, "anonymousId") is None:
        raise _Invalid("userId or anonymousId is required")
    if kind == "track" and not (isinstance(call.get("event"), str) and call["event"]):
        raise _Invalid("a track call needs event, the name of what happened")
    for name in _OBJECTS:
        if call.get(name) is not None and not isinstance(call[name], dict):
            raise _Invalid(f"{name} must be a JSON object")
    for name in ("timestamp", "originalTimestamp", "sentAt"):
        _instant(call, name)
    if may_be_huge and len(json.dumps(call, ensure_ascii=False).encode()) > MAX_CALL_BYTES:
        raise _Invalid(f"a call is at most {MAX_CALL_BYTES} bytes of JSON: send less data with it")


def _audience_asked(call: dict) -> tuple[str, State] | None:
    """(audience key, state) if this is a call of an Engage audience, else None."""
    personas = (call.get("context") or {}).get("personas")
    of_audience = isinstance(personas, dict) and personas.get("computation_class") == "audience"
    computation_key = personas.get("computation_key") if of_audience else None
    if call["type"] == "identify" and of_audience:
        key = _audience_key(computation_key, "context.personas.computation_key")
        state = _flag(call.get("traits") or {}, key, "traits")
        if state is None:
            raise _Invalid(f"traits.{key} must be true or false: an audience's identify says whether the user is in it")
        return key, state
    if call["type"] != "track":
        return None
    properties = call.get("properties") or {}
    named_state = AUDIENCE_EVENTS.get(call["event"])
    where = "properties.audience_key" if "audience_key" in properties else "context.personas.computation_key"
    key = properties.get("audience_key", computation_key)
    if not of_audience and (named_state is None or key is None):
        return None  # an ordinary track
    key = _audience_key(key, where)
    flagged_state = _flag(properties, key, "properties")
    if named_state and flagged_state and named_state is not flagged_state:
        raise _Invalid(f"event {call['event']!r} contradicts properties.{key} = {properties[key]!r}")
    state = flagged_state or named_state
    if state is None:
        raise _Invalid(
            f"a track of audience {key!r} must be named {' or '.join(map(repr, AUDIENCE_EVENTS))}, "
            f"or have properties.{key} true or false"
        )
    return key, state


def _audience_key(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise _Invalid(f"{where} must name the audience: a non-empty string")
    if problem := audience_id_problem(value):
        raise _Invalid(f"{where} {problem}")
    return value


def _flag(values: dict, key: str, where: str) -> State | None:
    value = values.get(key)
    if value is None:
        return None
    if isinstance(value, bool | str) and value in _FLAGS:
        return _FLAGS[value]
    raise _Invalid(f"{where}.{key} must be true or false, got {_shown(value)}")


def _user(call: dict, tenant: Tenant) -> UserRef | None:
    """The user by userId, else by the first mapped trait the call has; None if only anonymousId names them."""
    identity_map = tenant.identity_map
    if (user_id := _text_id(call, "userId")) is not None:
        return _user_ref(tenant, identity_map.user_id, user_id, "userId")
    traits = (call.get("traits") or {}) if call["type"] == "identify" else {}
    context_traits = (call.get("context") or {}).get("traits")
    context_traits = context_traits if isinstance(context_traits, dict) else {}
    for trait, field in identity_map.traits:
        for where, values in (("traits", traits), ("context.traits", context_traits)):
            if values.get(trait) is not None:
                value = values[trait]
                if not isinstance(value, str) or not value:
                    raise _Invalid(f"{where}.{trait} names the user: it must be a non-empty string")
                return _user_ref(tenant, field, value, f"{where}.{trait}")
    return None


def _named(call: dict, tenant: Tenant) -> tuple[UserRef, ...]:
    """Every user a call names through the identity map (its userId, each mapped trait it holds as text), of the
    tenant's identifier fields only: whom a privacy request finds the call by."""
    identity_map, named = tenant.identity_map, []
    user_id = call.get("userId")
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        user_id = str(user_id)
    if isinstance(user_id, str) and user_id:
        named.append(UserRef(identity_map.user_id, user_id))
    context = call.get("context")
    for values in (call.get("traits"), context.get("traits") if isinstance(context, dict) else None):
        if isinstance(values, dict):
            named += [
                UserRef(field, values[trait])
                for trait, field in identity_map.traits
                if isinstance(values.get(trait), str) and values[trait]
            ]
    return tuple(dict.fromkeys(user for user in named if user.field in tenant.identifiers))


def _user_ref(tenant: Tenant, field: str, value: str, where: str) -> UserRef:
    if problem := tenant.unusable_identifier_problem(field, "audience calls"):
        raise _Invalid(f"{where} names the user as {problem}. The operator maps them: {IDENTITY_MAP_HELP}")
    if problem := identifier_value_problem(value):
        raise _Invalid(f"{where} {problem}")
    return UserRef(field, value)


def _anonymous_message(key: str, tenant: Tenant) -> str:
    mapped = ", ".join(f"traits.{trait} ({field})" for trait, field in tenant.identity_map.traits)
    return (
        f"the user of audience {key!r} is named only by anonymousId: the call is kept, no membership changed. "
        f"Send userId ({tenant.identity_map.user_id})" + (f" or one of {mapped}" if mapped else "")
    )


def _text_id(call: dict, name: str) -> str | None:
    """A user id as text (Segment's libraries send numbers as text, and so may a caller); None if absent."""
    value = call.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise _Invalid(f"{name} must be a string, got {_shown(value)}")
    return value


def _ts(call: dict, batch_sent_at: float | None, now: float, max_future_skew: float) -> float:
    """When the call happened, corrected for the sender's clock as Segment does:
    receivedAt - (sentAt - originalTimestamp), the call's own `timestamp` standing in for a
    missing originalTimestamp. A call that carries receivedAt was received and corrected by
    Segment already (a destination's delivery): its timestamp is final. No time at all: now.
    """
    timestamp = _instant(call, "timestamp")
    if timestamp is not None and call.get("receivedAt") is not None:
        happened, sent_at = timestamp, None
    else:
        original = _instant(call, "originalTimestamp")
        happened = original if original is not None else timestamp
        sent_at = _instant(call, "sentAt")
        sent_at = sent_at if sent_at is not None else batch_sent_at
    if happened is None:
        return now
    corrected = happened if sent_at is None else now - (sent_at - happened)
    try:
        return checked_ts(corrected, now, max_future_skew)
    except ValueError as error:
        raise _Invalid(f"the call's time: {error}") from error


def _instant(document: dict, name: str) -> float | None:
    """An ISO 8601 date-time field as epoch seconds (UTC when it names no offset); None if absent."""
    value = document.get(name)
    if value is None:
        return None
    try:
        if not isinstance(value, str):
            raise ValueError
        moment = datetime.fromisoformat(value)
    except ValueError:
        example = "2026-12-03T12:00:00.000Z"
        raise _Invalid(f"{name} must be an ISO 8601 date-time such as {example}, got {_shown(value)}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _shown(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."
