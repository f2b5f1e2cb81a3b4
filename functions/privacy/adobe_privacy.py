"""/data/core/privacy/jobs: Adobe Experience Platform's Privacy Service, on the core's privacy requests.

Jobs are organization-wide: x-sandbox-name is optional and ignored. One job per user and action."""

import time

from aws_lambda_powertools.event_handler.api_gateway import Router

from audiences import auth, rate_limits
from audiences.adobe import http
from audiences.adobe import privacy as adobe
from audiences.adobe.privacy import PREFIX
from audiences.errors import InvalidInput, NotFound
from audiences.openapi import json_body, query_parameters
from audiences.ports.privacy import Kind, Status
from audiences.privacy import jobs, requests

router = Router()
DOCS = {"tags": ["Adobe Experience Platform: Privacy Service"], "security": http.SECURITY}
HEADERS = ("Authorization", "x-api-key", "x-gw-ims-org-id")
CREATE = json_body(
    {
        "companyContexts": [{"namespace": "imsOrgID", "value": "demo@AdobeOrg"}],
        "users": [
            {
                "key": "jane",
                "action": ["access", "delete"],
                "userIDs": [{"namespace": "email", "value": "jane@example.com", "type": "standard"}],
            }
        ],
        "include": ["profileService"],
        "regulation": "gdpr",
    },
    "The organization, the users (each a key, its actions and its ids), the products and the regulation.",
)


@router.post(f"{PREFIX}/jobs", summary="Create access and delete jobs", openapi_extensions=CREATE, **DOCS)
def create_jobs():
    principal = http.caller(router, HEADERS).principal
    rate_limits.consume(principal.tenant_id, "adobe:privacy-jobs", adobe.CREATES_PER_MINUTE)
    tenant, now = auth.tenant_of(principal), time.time()
    create = adobe.parse_create(http.json_text(router), tenant)
    problems = [p for job in create.jobs for p in requests.subject_problems(tenant, job.subjects, f"users[{job.key}]")]
    if problems:  # every job checked before any is recorded: a refused create leaves none
        raise InvalidInput("some user IDs cannot be named here", tuple(problems))
    request_id = requests.new_request_id(now)
    created = []
    for job in create.jobs:
        runs = job.subjects and adobe.provisioned(create.include)
        submitted = requests.submit(
            tenant,
            adobe.ACTIONS[job.action],
            job.subjects,
            origin=adobe.ORIGIN,
            created_by=principal.actor,
            keep_days=adobe.KEEP_DAYS,
            attributes=adobe.attributes(create, job, request_id),
            status=Status.QUEUED if runs else Status.DONE,  # nothing here to act on: complete at once
            export_name=adobe.EXPORT_NAME,
            now=now,
        )
        user = {"key": job.key, "action": [job.action]}
        created.append({"jobId": submitted.request.request_id, "customer": {"user": user}})
    return http.respond({"jobs": created, "requestStatus": 1, "totalRecords": len(created)})


def _job_object(request, kept: dict) -> dict:
    url = jobs.download_url(request) if request.kind is Kind.ACCESS else None
    return adobe.job_object(request, kept, url)


@router.get(f"{PREFIX}/jobs/<job_id>", summary="Get a job", **DOCS)
def get_job(job_id: str):
    principal = http.caller(router, HEADERS).principal
    now = time.time()
    try:
        found = requests.get(principal.tenant_id, job_id, now)
    except NotFound:
        raise adobe.job_not_found(job_id) from None
    if not adobe.readable(found.request, now):
        raise adobe.job_not_found(job_id)
    return http.respond(_job_object(found.request, found.attributes))


LISTING = query_parameters(
    ("regulation", "gdpr (which also lists ccpa jobs), ccpa, lgpd_bra, …", True),
    ("page", "0-based page (default 0)", False),
    ("size", "jobs a page, 1 to 1,000 (default 100)", False),
    ("status", "submitted, processing, complete or error", False),
    ("fromDate", "YYYY-MM-DD (GMT), with toDate, at most 30 days before it and 45 days ago", False),
    ("toDate", "YYYY-MM-DD (GMT), with fromDate (default: the last 7 days)", False),
)


@router.get(f"{PREFIX}/jobs", summary="List jobs of a regulation, newest first", openapi_extensions=LISTING, **DOCS)
def list_jobs():
    principal = http.caller(router, HEADERS).principal
    now = time.time()
    listing = adobe.parse_listing(router.current_event.query_string_parameters or {}, now)
    every = requests.every(principal.tenant_id, now)[::-1]
    kept = requests.attributes_of(principal.tenant_id, every)
    found = [(r, k) for r, k in zip(every, kept, strict=True) if adobe.listed(r, k, listing, now)]
    page = found[listing.page * listing.size : (listing.page + 1) * listing.size]
    return http.respond({"jobs": [_job_object(r, k) for r, k in page], "requestStatus": 1, "totalRecords": len(found)})
