"""/regulations and /suppressions: Segment's Deletion and Suppression API, on the core's privacy requests."""

import time
from datetime import UTC, datetime
from email.utils import format_datetime

from aws_lambda_powertools.event_handler.api_gateway import Router

from audiences import auth
from audiences.domain import DAY_SECONDS, Principal
from audiences.errors import NotFound, RateLimited, Unprocessable
from audiences.openapi import json_body, query_parameters
from audiences.ports.privacy import Status, Subject
from audiences.privacy import requests
from audiences.rate_limits import Usage
from audiences.segment import audiences as segment
from audiences.segment import http
from audiences.segment import regulations as regulation

router = Router()
DOCS = {"tags": ["Segment Public API: deletion and suppression"], "security": http.SECURITY}
FAMILY = "regulations"


def _caller(endpoint: str) -> Principal:
    principal = http.authenticate(router)
    http.limit(router, principal, endpoint, FAMILY)
    return principal


def _not_found(regulate_id: str) -> NotFound:
    return NotFound(f"Regulation with id '{regulate_id}' not found.", "regulation")


def _regulation(tenant_id: str, regulate_id: str) -> requests.Submitted:
    """The workspace's regulation: another workspace's, another API's, a deleted or an expired one is not found."""
    segment.checked_path_param("regulateId", regulate_id)
    try:
        found = requests.get(tenant_id, regulate_id)
    except NotFound:
        raise _not_found(regulate_id) from None
    if found.request.origin != regulation.ORIGIN or found.request.status is Status.CANCELLED:
        raise _not_found(regulate_id)
    return found


def _quota(tenant_id: str, asked: int, now: float) -> dict[str, str]:
    """The subjects left of the workspace's 30-day quota after this call; RateLimited if it would go over."""
    since = now - regulation.QUOTA_DAYS * DAY_SECONDS
    recent = [r for r in requests.every(tenant_id, now) if r.origin == regulation.ORIGIN and r.created_at > since]
    used = sum(r.subject_count for r in recent)
    reset = (recent[0].created_at if recent else now) + regulation.QUOTA_DAYS * DAY_SECONDS
    if used + asked > regulation.QUOTA_SUBJECTS:
        raise RateLimited(Usage(regulation.QUOTA_SUBJECTS, used + asked, reset, now))
    return {
        "X-Regulation-RateLimit-Remaining": str(regulation.QUOTA_SUBJECTS - used - asked),
        "X-Regulation-RateLimit-Quota-Reset": format_datetime(datetime.fromtimestamp(reset, UTC), usegmt=True),
    }


@router.post(
    "/regulations",
    summary="Create a regulation: delete, suppress or unsuppress users",
    openapi_extensions=json_body(
        {"regulationType": "SUPPRESS_WITH_DELETE", "subjectType": "USER_ID", "subjectIds": ["user-123"]},
        "The regulation type, USER_ID (the tenant's user id field) and the users' ids (1 to 5,000).",
    ),
    **DOCS,
)
def create_regulation():
    principal = _caller("create")
    asked = regulation.parse_create(http.json_text(router))
    tenant, now = auth.tenant_of(principal), time.time()
    headers = _quota(principal.tenant_id, len(asked.subject_ids), now)
    user_id = tenant.identity_map.user_id
    submitted = requests.submit(
        tenant,
        asked.kind,
        [Subject(user_id, value) for value in asked.subject_ids],
        origin=regulation.ORIGIN,
        created_by=principal.actor,
        keep_days=regulation.KEEP_DAYS,
        attributes=regulation.attributes(asked),
        status=Status.QUEUED if asked.supported else Status.NOT_SUPPORTED,
        now=now,
    )
    return http.respond(router, {"regulateId": submitted.request.request_id}, headers=headers)


@router.get("/regulations/<regulate_id>", summary="Get a regulation's status", **DOCS)
def get_regulation(regulate_id: str):
    principal = _caller("get")
    found = _regulation(principal.tenant_id, regulate_id)
    return http.respond(router, {"regulation": regulation.regulation_object(found.request, principal.tenant_id)})


PAGE = (
    ("pagination[count]", "1 to 200 (default 200); also pagination.count, or pagination as JSON", False),
    ("pagination[cursor]", "`next` of the previous page", False),
)
LISTING = query_parameters(
    *PAGE,
    ("status", "only regulations of this status (INITIALIZED, RUNNING, FINISHED, …)", False),
    ("regulationTypes[0]", "only these types (also repeated, [] or comma-joined)", False),
)


@router.get(
    "/regulations",
    summary="List the workspace's regulations, oldest first",
    openapi_extensions=LISTING,
    **DOCS,
)
def list_regulations():
    principal = _caller("list")
    query = router.current_event.multi_value_query_string_parameters or {}
    listing = regulation.parse_listing(query, principal.tenant_id)
    held = requests.every(principal.tenant_id)
    kept = requests.attributes_of(principal.tenant_id, held)
    every = [r for r, k in zip(held, kept, strict=True) if regulation.selected(r, k, listing)]
    following = [r for r in every if listing.after is None or r.request_id > listing.after]
    page = requests.with_subjects(principal.tenant_id, following[: listing.count])
    pagination = {
        "current": listing.cursor or segment.cursor("after", "", principal.tenant_id),
        "totalEntries": len(every),
    }
    if len(following) > len(page):
        pagination["next"] = segment.cursor("after", page[-1].request.request_id, principal.tenant_id)
    return http.respond(
        router,
        {
            "regulations": [
                regulation.list_entry(s.request, s.attributes, [x.value for x in s.subjects]) for s in page
            ],
            "pagination": pagination,
        },
    )


@router.delete("/regulations/<regulate_id>", summary="Delete (cancel) a regulation not yet started", **DOCS)
def delete_regulation(regulate_id: str):
    principal = _caller("delete")
    _regulation(principal.tenant_id, regulate_id)
    if requests.cancel(principal.tenant_id, regulate_id) is None:
        raise Unprocessable(f"Regulation '{regulate_id}' has started: only an INITIALIZED regulation can be deleted.")
    return http.respond(router, {"status": "SUCCESS"})


@router.get(
    "/suppressions",
    summary="List the suppressed users (as keyed hashes)",
    openapi_extensions=query_parameters(*PAGE),
    **DOCS,
)
def list_suppressions():
    principal = _caller("list")
    query = router.current_event.multi_value_query_string_parameters or {}
    listing = regulation.parse_listing(query, principal.tenant_id, positions=regulation.is_suppression_position)
    hashes = requests.suppressed(principal.tenant_id)
    following = [h for h in hashes if listing.after is None or h > listing.after]
    page = following[: listing.count]
    pagination = {
        "current": listing.cursor or segment.cursor("after", "", principal.tenant_id),
        "totalEntries": len(hashes),
    }
    if len(following) > len(page):
        pagination["next"] = segment.cursor("after", page[-1], principal.tenant_id)
    suppressed = [{"subjectType": "USER_ID", "subjectIds": [f"hmac:{h}" for h in page]}] if page else []
    return http.respond(router, {"suppressed": suppressed, "pagination": pagination})


def unknown_path(path: str) -> NotFound:
    return NotFound(
        f"No such resource: {path}. Regulations are /regulations[/{{regulateId}}]; there are no sources here."
    )
