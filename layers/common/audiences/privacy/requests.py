"""Privacy requests, whoever asks: submitted here, run as jobs (`audiences.privacy.jobs`), read back with their
subjects and the dialect's attributes unsealed. Dialects name the kinds and statuses in their own words; this
knows none of them."""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass

from audiences.domain import DAY_SECONDS, Tenant, identifier_value_problem
from audiences.errors import InvalidInput, NotFound, Problem
from audiences.ports.privacy import Kind, PrivacyRequest, Status, Subject
from audiences.privacy.sealing import seal, seal_json, unseal, unseal_json
from audiences.wiring import stores

MAX_SUBJECTS = 5_000  # Segment's most subjects per regulation, the largest any dialect sends
REQUEST_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}")


_last_id = (0, 0)  # (milliseconds, sequence) of the last id this process made
_id_lock = threading.Lock()


def new_request_id(now: float) -> str:
    """A UUIDv7 (RFC 9562): 48 bits of milliseconds, then a 12-bit sequence within the millisecond (method 1),
    then random bits, so the ids one process makes sort by creation."""
    global _last_id
    with _id_lock:
        millis = max(int(now * 1000), _last_id[0])
        sequence = _last_id[1] + 1 if millis == _last_id[0] else 0
        if sequence > 0xFFF:  # 4,096 ids in one millisecond: borrow the next one
            millis, sequence = millis + 1, 0
        _last_id = (millis, sequence)
    variant = 0x8 | secrets.randbelow(4)
    raw = f"{millis:012x}7{sequence:03x}{variant:x}{secrets.token_hex(8)[1:]}"
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:32]}"


def tenant_key(tenant_id: str, now: float) -> bytes:
    """The tenant's secret, made on its first privacy request."""
    return stores().privacy.secret(tenant_id) or stores().privacy.create_secret(tenant_id, now)


def subject_problems(tenant: Tenant, subjects: list[Subject], where: str = "subjects") -> list[Problem]:
    problems = []
    for n, subject in enumerate(subjects):
        if subject.field not in tenant.identifiers:
            known = ", ".join(sorted(tenant.identifiers))
            problems.append(Problem(f"{where}[{n}]", f"identifier {subject.field!r} is not one of {known}"))
        elif problem := identifier_value_problem(subject.value):
            problems.append(Problem(f"{where}[{n}]", f"the identifier value {problem}"))
    return problems


@dataclass(frozen=True)
class Submitted:
    request: PrivacyRequest
    subjects: list[Subject]
    attributes: dict  # what the dialect kept of the request


def submit(
    tenant: Tenant,
    kind: Kind,
    subjects: list[Subject],
    *,
    origin: str,
    created_by: str,
    keep_days: int,
    attributes: dict | None = None,
    status: Status = Status.QUEUED,
    suppress_days: int = 0,
    export_name: str = "",
    now: float | None = None,
) -> Submitted:
    """Record a request and queue its job (a request born terminal, as an opt-out, runs no job). Subjects are
    checked first: InvalidInput names every one refused, and nothing is recorded. The subjects and the
    dialect's `attributes` are kept sealed: whatever a client sent may name a person."""
    now = time.time() if now is None else now
    subjects = list(dict.fromkeys(subjects))  # a subject named twice is asked for once
    if problems := subject_problems(tenant, subjects):
        raise InvalidInput("some subjects cannot be named here", tuple(problems))
    if kind is Kind.OPT_OUT:
        status = Status.DONE
    if not (0 if status.terminal else 1) <= len(subjects) <= MAX_SUBJECTS:  # one born terminal may name none
        raise InvalidInput(
            f"a request names 1 to {MAX_SUBJECTS} subjects",
            (Problem("subjects", f"name 1 to {MAX_SUBJECTS} subjects"),),
        )
    key = tenant_key(tenant.tenant_id, now)
    attributes = attributes or {}
    request = PrivacyRequest(
        request_id=new_request_id(now),
        kind=kind,
        origin=origin,
        sealed_subjects=seal(key, subjects),
        subject_count=len(subjects),
        created_at=now,
        created_by=created_by,
        status=status,
        updated_at=now,
        finished_at=now if status.terminal else None,
        suppress_days=suppress_days,
        export_name=export_name,
        sealed_attributes=seal_json(key, attributes),
        expires_at=now + keep_days * DAY_SECONDS,
    )
    stores().privacy.put_request(tenant.tenant_id, request)
    if not status.terminal:
        queue_job(tenant.tenant_id, request.request_id)
    return Submitted(request, subjects, attributes)


def queue_job(tenant_id: str, request_id: str, delay_seconds: float = 0) -> None:
    body = json.dumps({"tenant": tenant_id, "request": request_id})
    stores().queues.send_to_privacy(body, min(900, max(0, int(delay_seconds + 0.999))))


def get(tenant_id: str, request_id: str, now: float | None = None) -> Submitted:
    """The request with its subjects; NotFound if there is none (another tenant's, or one past its window)."""
    now = time.time() if now is None else now
    request = stores().privacy.get_request(tenant_id, request_id) if REQUEST_ID.fullmatch(request_id) else None
    if request is None or (request.expires_at is not None and request.expires_at <= now):
        raise NotFound(f"privacy request {request_id!r} does not exist", "privacy request")
    return with_subjects(tenant_id, [request])[0]


def subjects_of(tenant_id: str, request: PrivacyRequest) -> list[Subject]:
    return with_subjects(tenant_id, [request])[0].subjects


def with_subjects(tenant_id: str, found: list[PrivacyRequest]) -> list[Submitted]:
    """The requests with their subjects and attributes unsealed, the tenant's secret read once for all of them."""
    secret = stores().privacy.secret(tenant_id) if found else None
    return [
        Submitted(r, unseal(secret, r.sealed_subjects), unseal_json(secret, r.sealed_attributes))
        if secret
        else Submitted(r, [], {})
        for r in found
    ]


def attributes_of(tenant_id: str, found: list[PrivacyRequest]) -> list[dict]:
    """The requests' attributes alone, unsealed (a listing filters on them before it needs any subject)."""
    secret = stores().privacy.secret(tenant_id) if found else None
    return [unseal_json(secret, r.sealed_attributes) if secret else {} for r in found]


def cancel(tenant_id: str, request_id: str, now: float | None = None) -> PrivacyRequest | None:
    """Withdraw a request still queued; None if it has started (or ended) already. NotFound if none."""
    now = time.time() if now is None else now
    get(tenant_id, request_id, now)
    return stores().privacy.update_request(
        tenant_id, request_id, {Status.QUEUED}, status=Status.CANCELLED, updated_at=now, finished_at=now
    )


def suppressed(tenant_id: str, now: float | None = None) -> list[str]:
    """The keyed hashes of every subject suppressed now, sorted: what the tenant may list of them."""
    now = time.time() if now is None else now
    marks = stores().privacy.screening(tenant_id).marks
    return sorted(digest for digest, mark in marks.items() if mark.suppressed(now))


def every(tenant_id: str, now: float | None = None) -> list[PrivacyRequest]:
    """Every live request of the tenant, oldest first: a dialect's listing filters them (requests live 90 days
    at most, so a tenant holds hundreds, not millions)."""
    now = time.time() if now is None else now
    found, after = [], None
    while True:
        page, more = stores().privacy.requests(tenant_id, after, 1000)
        found += [r for r in page if r.expires_at is None or r.expires_at > now]
        if not more:
            return found
        after = page[-1].request_id
