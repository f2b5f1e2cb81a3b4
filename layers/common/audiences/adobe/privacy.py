"""Adobe Experience Platform's Privacy Service jobs: the create body, the job object, listing parameters, and
its errors (PRVCY codes). The jobs themselves are the core's privacy requests (audiences.privacy)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response

from audiences import edge
from audiences.adobe import http
from audiences.domain import DAY_SECONDS, Tenant
from audiences.errors import InvalidInput, NotFound, Problem, RateLimited
from audiences.json_bodies import json_object, refuse, unknown_fields
from audiences.ports.privacy import Kind, PrivacyRequest, Status, Subject

PREFIX = "/data/core/privacy"
ORIGIN = "adobe"
KEEP_DAYS = 60  # an access export is deleted after 60 days (Adobe's window); a job is readable 30 days after it ends
READABLE_DAYS_AFTER = 30
CREATES_PER_MINUTE = 60
MAX_USERS = 1_000
MAX_IDS_PER_USER = 9
MAX_KEY_CHARS = 255
MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE = 1_000, 100
PRODUCT = "profileService"
PRODUCT_ALIASES = {"profileservice", "adobecloudplatform", "aepdatalake"}
EXPORT_NAME = f"{PRODUCT}.json"
ACTIONS = {"access": Kind.ACCESS, "delete": Kind.DELETE}
NAMESPACE_IDS = {6: "email"}  # Adobe's standard namespace ids this service's fields stand for
STATUSES = {
    Status.QUEUED: "submitted",
    Status.RUNNING: "processing",
    Status.DONE: "complete",
    Status.FAILED: "error",
    Status.CANCELLED: "error",
    Status.NOT_SUPPORTED: "complete",
}
_FIELDS = {
    "companyContexts",
    "users",
    "include",
    "expandIds",
    "priority",
    "analyticsDeleteMethod",
    "mergePolicyId",
    "regulation",
}
_REGULATION = re.compile(r"[a-z]{2,12}(_[a-z]{3})?")
_ADOBE_DATE = "%m/%d/%Y %I:%M %p GMT"


@dataclass(frozen=True)
class Job:
    """One job of a create: one user's one action."""

    key: str
    action: str
    subjects: list[Subject]
    user_ids: list[dict]  # as sent, with the namespace named
    unknown_namespaces: list[str]


@dataclass(frozen=True)
class Create:
    jobs: list[Job]
    include: list[str]
    regulation: str


def _field_of(user_id: dict, tenant: Tenant) -> str | None:
    namespace = user_id.get("namespace")
    if isinstance(namespace, str) and namespace.lower() in tenant.identifiers:
        return namespace.lower()
    namespace_id = user_id.get("namespaceId")
    if isinstance(namespace_id, int) and NAMESPACE_IDS.get(namespace_id) in tenant.identifiers:
        return NAMESPACE_IDS[namespace_id]
    return None


def _user(n: int, user: object, tenant: Tenant, problems: list[Problem]) -> list[Job]:
    where = f"users[{n}]"
    if not isinstance(user, dict):
        problems.append(Problem(where, "must be an object with key, action and userIDs"))
        return []
    key, actions, ids = user.get("key"), user.get("action"), user.get("userIDs")
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_CHARS:
        problems.append(Problem(f"{where}.key", f"must be a string of 1 to {MAX_KEY_CHARS} characters"))
    if not isinstance(actions, list) or not actions or any(not isinstance(a, str) or a not in ACTIONS for a in actions):
        problems.append(Problem(f"{where}.action", "must be a non-empty list of access and delete"))
        actions = []
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_IDS_PER_USER:
        problems.append(Problem(f"{where}.userIDs", f"must be a list of 1 to {MAX_IDS_PER_USER} ids"))
        ids = []
    subjects, listed, unknown = [], [], []
    for m, user_id in enumerate(ids):
        at = f"{where}.userIDs[{m}]"
        if not isinstance(user_id, dict) or not isinstance(user_id.get("value"), str) or not user_id["value"]:
            problems.append(Problem(at, "must be an object with namespace, value and type"))
            continue
        if not isinstance(user_id.get("type"), str):
            problems.append(Problem(f"{at}.type", "must be an Adobe namespace qualifier, such as standard"))
        field = _field_of(user_id, tenant)
        if field is None:
            unknown.append(str(user_id.get("namespace", user_id.get("namespaceId"))))
        else:
            subjects.append(Subject(field, user_id["value"]))
        listed.append({**user_id, "namespace": field or user_id.get("namespace")})
    return [Job(key, action, subjects, listed, unknown) for action in dict.fromkeys(actions)]


def parse_create(body: str | None, tenant: Tenant) -> Create:
    document = json_object(body)
    problems: list[Problem] = []
    unknown_fields(document, _FIELDS, problems)
    contexts = document.get("companyContexts")
    orgs = [
        c.get("value")
        for c in contexts
        if isinstance(c, dict) and str(c.get("namespace", "")).lower() == "imsorgid"
    ] if isinstance(contexts, list) else []  # fmt: skip
    if not any(isinstance(o, str) and o.removesuffix("@AdobeOrg") == tenant.tenant_id for o in orgs):
        problems.append(Problem("companyContexts", "must hold an imsOrgID entry naming the x-gw-ims-org-id org"))
    users = document.get("users")
    if not isinstance(users, list) or not 1 <= len(users) <= MAX_USERS:
        problems.append(Problem("users", f"must be a list of 1 to {MAX_USERS} users"))
        users = []
    jobs = [job for n, user in enumerate(users) for job in _user(n, user, tenant, problems)]
    include = document.get("include")
    if not isinstance(include, list) or not include or not all(isinstance(i, str) and i for i in include):
        problems.append(Problem("include", f"must be a non-empty list of products, such as {PRODUCT}"))
        include = []
    regulation = document.get("regulation")
    if not isinstance(regulation, str) or not _REGULATION.fullmatch(regulation):
        problems.append(Problem("regulation", "must be a regulation such as gdpr, ccpa or lgpd_bra"))
    if document.get("priority", "normal") not in ("normal", "low"):
        problems.append(Problem("priority", "must be normal or low"))
    if document.get("analyticsDeleteMethod", "anonymize") not in ("anonymize", "purge"):
        problems.append(Problem("analyticsDeleteMethod", "must be anonymize or purge"))
    if not isinstance(document.get("expandIds", False), bool):
        problems.append(Problem("expandIds", "must be true or false"))
    refuse(problems)
    return Create(jobs, include, regulation)


def provisioned(include: list[str]) -> bool:
    return any(product.lower() in PRODUCT_ALIASES for product in include)


def _date(moment: float | None) -> str | None:
    return datetime.fromtimestamp(moment, UTC).strftime(_ADOBE_DATE) if moment is not None else None


def _response(product: str, code: str, message: str, when: float | None, results: dict | None = None) -> dict:
    status = {"status": "complete", "message": message, "responseMsgCode": code, "responseMsgDetail": message}
    if results is not None:
        status["results"] = results
    return {"product": product, "retryCount": 0, "processedDate": _date(when), "productStatusResponse": status}


def _ours(request: PrivacyRequest, kept: dict) -> dict:
    when, results = request.finished_at, request.results
    if request.status is not Status.DONE:
        code = "PRVCY-6000-200" if request.status is not Status.FAILED else "PRVCY-6054-200"
        status = {"status": STATUSES[request.status], "message": "", "responseMsgCode": code, "responseMsgDetail": ""}
        return {"product": PRODUCT, "retryCount": 0, "processedDate": None, "productStatusResponse": status}
    if kept["unknownNamespaces"] and not request.subject_count:
        return _response(PRODUCT, "PRVCY-6053-200", "Invalid namespace", when)
    found = results.get("memberships", 0) + results.get("events", 0) + results.get("import_files", 0)
    if request.kind is Kind.ACCESS:
        found += 1 if results.get("export") else 0
    if not found and request.kind is not Kind.ACCESS:
        return _response(PRODUCT, "PRVCY-6052-200", "User IDs not found", when, {"processed": 0, "ignored": 1})
    return _response(PRODUCT, "PRVCY-6000-200", "Success", when, {"processed": 1, "ignored": 0})


def job_object(request: PrivacyRequest, kept: dict, download_url: str | None) -> dict:
    """The job as Privacy Service answers it; `kept` is what `attributes` made of its create."""
    responses = [_ours(request, kept)] if kept["provisioned"] else []
    responses += [
        _response(p, "PRVCY-6051-200", "Not provisioned", request.created_at)
        for p in kept["include"]
        if p.lower() not in PRODUCT_ALIASES
    ]
    job = {
        "jobId": request.request_id,
        "requestId": kept["requestId"],
        "userKey": kept["userKey"],
        "action": kept["action"],
        "status": STATUSES[request.status],
        "submittedBy": request.created_by,
        "createdDate": _date(request.created_at),
        "lastModifiedDate": _date(request.updated_at),
        "userIds": kept["userIds"],
        "productResponses": responses,
        "regulation": kept["regulation"],
    }
    if download_url:
        job["downloadURL"] = download_url
    return job


def attributes(create: Create, job: Job, request_id: str) -> dict:
    """What a job's answers need of its create, the user key and ids as sent among them (kept sealed)."""
    user_ids = [
        {
            "namespace": u.get("namespace"),
            "value": u["value"],
            "type": u.get("type"),
            "namespaceId": u.get("namespaceId"),
            "isDeletedClientSide": bool(u.get("isDeletedClientSide", False)),
        }
        for u in job.user_ids
    ]
    return {
        "requestId": request_id,
        "userKey": job.key,
        "action": job.action,
        "userIds": user_ids,
        "include": create.include,
        "provisioned": provisioned(create.include),
        "regulation": create.regulation,
        "unknownNamespaces": job.unknown_namespaces,
    }


def readable(request: PrivacyRequest, now: float) -> bool:
    ended = request.finished_at
    return request.origin == ORIGIN and (ended is None or now < ended + READABLE_DAYS_AFTER * DAY_SECONDS)


@dataclass(frozen=True)
class Listing:
    regulations: frozenset[str]
    page: int
    size: int
    status: str | None
    since: float
    until: float


def _day(text: str, name: str, problems: list[Problem]) -> date | None:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    problems.append(Problem(name, "must be a date as YYYY-MM-DD (GMT)"))
    return None


def parse_listing(query: Mapping[str, str], now: float) -> Listing:
    problems: list[Problem] = []
    regulation = query.get("regulation")
    if not regulation or not _REGULATION.fullmatch(regulation):
        problems.append(Problem("regulation", "is required: gdpr, ccpa or another regulation"))
    page, size = query.get("page", "0"), query.get("size", str(DEFAULT_PAGE_SIZE))
    if not page.isdigit():
        problems.append(Problem("page", "must be a whole number from 0"))
    if not size.isdigit() or not 1 <= int(size) <= MAX_PAGE_SIZE:
        problems.append(Problem("size", f"must be a whole number from 1 to {MAX_PAGE_SIZE}"))
    status = query.get("status")
    if status is not None and status not in set(STATUSES.values()):
        problems.append(Problem("status", "must be submitted, processing, complete or error"))
    today = datetime.fromtimestamp(now, UTC).date()
    since, until = today - timedelta(days=7), today
    if ("fromDate" in query) != ("toDate" in query):
        problems.append(Problem("fromDate", "fromDate and toDate go together: send both or neither"))
    elif "fromDate" in query:
        start, end = _day(query["fromDate"], "fromDate", problems), _day(query["toDate"], "toDate", problems)
        if start and end:
            if not timedelta(0) <= end - start <= timedelta(days=30):
                problems.append(Problem("toDate", "must be on or after fromDate, at most 30 days after it"))
            if start < today - timedelta(days=45):
                problems.append(Problem("fromDate", "must be at most 45 days ago"))
            since, until = start, end
    refuse(problems)
    regulations = {regulation} | ({"ccpa"} if regulation == "gdpr" else set())  # Adobe's rule
    start_of = datetime(since.year, since.month, since.day, tzinfo=UTC).timestamp()
    end_of = datetime(until.year, until.month, until.day, tzinfo=UTC).timestamp() + DAY_SECONDS
    return Listing(frozenset(regulations), int(page), int(size), status, start_of, end_of)


def listed(request: PrivacyRequest, kept: dict, listing: Listing, now: float) -> bool:
    if not readable(request, now) or not listing.since <= request.created_at < listing.until:
        return False
    if kept["regulation"] not in listing.regulations:
        return False
    return listing.status is None or STATUSES[request.status] == listing.status


def unknown_path(path: str) -> NotFound:
    return NotFound(f"No such resource: {path}. The Privacy Service API is {PREFIX}/jobs[/{{jobId}}].", "path")


def job_not_found(job_id: str) -> NotFound:
    return NotFound(f"No privacy job {job_id!r} in this organization.", "job")


def error_response(error: Exception) -> Response:
    """Adobe's error body; Privacy Service's own codes for a refused body (PRVCY-1000-400) and for the rate
    limit (PRVCY-1030-400, a 400 with Retry-After, as Privacy Service answers it)."""
    if isinstance(error, InvalidInput):
        details = [{"field": str(p.where), "reason": p.message} for p in error.problems]
        detail = http.detail(error)
        return edge.json_response(
            HTTPStatus.BAD_REQUEST,
            http.error_body(HTTPStatus.BAD_REQUEST, "PRVCY-1000-400", "BAD_REQUEST", detail, details),
        )
    if isinstance(error, RateLimited):
        wait = math.ceil(error.usage.ms_before_next / 1000)
        detail = f"More than {error.usage.limit} jobs were created this minute: retry after {wait} seconds."
        body = http.error_body(HTTPStatus.BAD_REQUEST, "PRVCY-1030-400", "BAD_REQUEST", detail, [])
        return edge.json_response(HTTPStatus.BAD_REQUEST, body, {"Retry-After": str(wait)})
    return http.error_response(error)
