"""ODP's Compliance API: the delete and opt-out bodies and the status word. The requests are the core's
(audiences.privacy); a delete suppresses the profile for 30 days, as ODP drops events of a profile under
deletion, then erases it."""

from __future__ import annotations

from dataclasses import dataclass

from audiences.domain import Tenant, identifier_value_problem
from audiences.errors import Problem
from audiences.json_bodies import decode_json, refuse
from audiences.ports.privacy import PrivacyRequest, Status, Subject

ORIGIN = "odp"
FRAMEWORKS = ("gdpr", "ccpa", "lgpd")
OPT_OUT_FRAMEWORKS = ("ccpa",)
MAX_ITEMS = 1_000
MAX_REQUESTER_CHARS = 320  # an email address's longest
KEEP_DAYS = 90  # a status id is readable for 90 days
SUPPRESS_DAYS = 30
_FIELDS = ("identifier_field_name", "identifier_value", "requester")


@dataclass(frozen=True)
class Item:
    subject: Subject
    requester: str


def parse_items(body: str | None, tenant: Tenant) -> list[Item]:
    """Every item checked against the tenant's identifier fields; InvalidInput names each problem."""
    document = decode_json(body)
    problems: list[Problem] = []
    if not isinstance(document, list) or not 1 <= len(document) <= MAX_ITEMS:
        refuse([Problem("body", f"must be a JSON array of 1 to {MAX_ITEMS} requests")])
    items = []
    for n, item in enumerate(document):
        if not isinstance(item, dict) or sorted(item) != sorted(_FIELDS):
            problems.append(Problem(f"[{n}]", f"must be an object of exactly {', '.join(_FIELDS)}"))
            continue
        field, value, requester = (item[name] for name in _FIELDS)
        if not all(isinstance(v, str) for v in (field, value, requester)):
            problems.append(Problem(f"[{n}]", f"{', '.join(_FIELDS)} must be strings"))
            continue
        if field not in tenant.identifiers:
            known = ", ".join(sorted(tenant.identifiers))
            problems.append(
                Problem(f"[{n}].identifier_field_name", f"{field!r} is not an identifier: use one of {known}")
            )
        if problem := identifier_value_problem(value):
            problems.append(Problem(f"[{n}].identifier_value", problem))
        if not 1 <= len(requester) <= MAX_REQUESTER_CHARS or "@" not in requester:
            problems.append(Problem(f"[{n}].requester", "must be the requester's email address"))
        items.append(Item(Subject(field, value), requester))
    refuse(problems)
    return items


def status_word(request: PrivacyRequest) -> str:
    if request.status is Status.DONE:
        return "COMPLETED"
    return "FAILED" if request.status is Status.FAILED else "IN_PROGRESS"
