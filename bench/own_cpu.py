"""Our own CPU: events, customer queries and an import with AWS's answers replayed, not computed by moto.

Each scenario runs once on moto with moto's answers recorded, then again from the same warm state with
the answers handed back in moto's place (`harness.MOTO_ANSWERS`): the second run's time is what this
process spends (our code, PynamoDB, botocore's serializing, signing and parsing: a Lambda's CPU),
with moto's milliseconds of Python per item and every network round trip taken out. The floor beside
it: the very requests the scenario made (their parameters recorded), sent one after another by bare
botocore clients on the same answers, which is what any Python client pays to say the same to AWS.
"""

from __future__ import annotations

import json
import tempfile
import time
from contextlib import suppress
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from bench.harness import (
    MOTO_ANSWERS,
    T,
    call,
    fresh_aws,
    fresh_transitions,
    passthrough,
    timed,
)
from bench.queries import one_user_in_five
from local import lambdas, provision
from local.gateway import Router, proxy_event

IMPORTED_ROWS = 1_000_000


def invocation(router: Router, method: str, path: str, key: str, body: object):
    """One request's invocation of its function as Lambda makes it: the event built beforehand (API Gateway's
    work), the handler called with it (no local gateway, no local IAM checks); it answers 2xx."""
    target, params = router.match(method, path)
    headers = [("content-type", "application/json"), ("x-api-key", key)]
    event = proxy_event(target, params, method, path, headers, json.dumps(body).encode())
    function = target.function

    def invoke() -> None:
        answer = function.handler(json.loads(json.dumps(event)), lambdas.LambdaContext(function.function))
        assert answer["statusCode"] < 300, answer

    return invoke


def recorded_then_replayed(work) -> tuple[float, float]:
    """`work` on moto with its answers recorded, then again on the recording: the second run's seconds,
    and the floor's (its requests sent by bare clients on the same answers)."""
    with MOTO_ANSWERS.recording(requests=True):
        work()
    answers, requests = MOTO_ANSWERS.kept(), list(MOTO_ANSWERS.requests)
    with MOTO_ANSWERS.replaying():
        seconds = timed(work)
    MOTO_ANSWERS.restore(answers)
    bare = Config(parameter_validation=False)  # as PynamoDB's client
    clients = {service: boto3.client(service, region_name=provision.REGION, config=bare) for service, _, _ in requests}

    def floor() -> None:
        for service, operation, params in requests:
            with suppress(ClientError):  # a condition that failed when recorded fails again
                clients[service]._make_api_call(operation, params)

    with MOTO_ANSWERS.replaying():
        return seconds, timed(floor)


def per_event(functions) -> dict:
    """The ingest scenario's 10,000 fresh transitions, 20 uploads of 500, through the ingest handler."""
    from audiences import catalog
    from audiences.domain import OPERATOR, Audience

    events = fresh_transitions()
    batches = [events[start : start + 500] for start in range(0, len(events), 500)]
    with fresh_aws() as keys:
        router = Router(list(functions.values()))
        audiences = sorted({event["data"]["audience_id"] for event in events})
        for audience in audiences:
            catalog.create_audience("demo", Audience(audience, audience), OPERATOR)
        warm = [passthrough("qualify", "warm", audience, T) for audience in audiences]
        call(router, "POST", "/v3/events", keys["DEMO_PUBLIC_KEY"], warm)  # the key and the catalog copy
        uploads = [invocation(router, "POST", "/v3/events", keys["DEMO_PUBLIC_KEY"], batch) for batch in batches]
        seconds, floor = recorded_then_replayed(lambda: [upload() for upload in uploads])
    return {
        "events": len(events),
        "events_per_request": 500,
        "seconds": seconds,
        "us_per_event": seconds / len(events) * 1e6,
        "botocore_us_per_event": floor / len(events) * 1e6,
    }


def per_query(functions) -> dict:
    """1,000 warm customer queries, as the SDKs ask them, of a user in 5 audiences."""
    with fresh_aws() as keys:
        router = Router(list(functions.values()))
        query = one_user_in_five(router, keys)
        ask = invocation(router, "POST", "/v3/graphql", keys["DEMO_PUBLIC_KEY"], query)
        seconds, floor = recorded_then_replayed(lambda: [ask() for _ in range(1000)])
    return {"queries": 1000, "seconds": seconds, "ms_per_query": seconds, "botocore_ms_per_query": floor}


def per_imported_row() -> dict:
    """A first import of IMPORTED_ROWS members read, diffed and planned by the imports function, less the
    compute path alone (Polars, in this process, on the same file): what is left is ours per row."""
    from audiences import cache
    from audiences.domain import OPERATOR, Audience, Confidence, Tenant
    from audiences.member_files import FileContext
    from audiences.odp.audience_file import AudienceFile
    from audiences.stores import catalog as catalog_store
    from bench.compute import diffed
    from bench.imports import AUDIENCE, SEGMENT, imported, upload

    with tempfile.TemporaryDirectory() as scratch, fresh_aws():
        catalog_store.create_audience("demo", Audience(SEGMENT, AUDIENCE), OPERATOR)
        notification = upload((f"user-{n:09d}" for n in range(IMPORTED_ROWS)), scratch=Path(scratch))

        def work() -> None:
            cache.clear_all()  # the same start both times: a new container
            imported(notification)

        with MOTO_ANSWERS.recording():  # its requests carry file bodies: no floor
            work()
        with MOTO_ANSWERS.replaying():
            seconds = timed(work)
        path = Path(scratch) / "members.csv.gz"
        tenant = Tenant.of("demo", fs_user_id=Confidence.HIGH)
        context = FileContext(tenant, Audience(SEGMENT, AUDIENCE), time.time(), 300)
        compute = timed(lambda: diffed(AudienceFile(path.open("rb"), path.stat().st_size, context), [], Path(scratch)))
    outside = max(seconds - compute, 0.0)
    return {
        "rows": IMPORTED_ROWS,
        "seconds": seconds,
        "compute_seconds": compute,
        "us_per_row_outside_polars": outside / IMPORTED_ROWS * 1e6,
    }


def bench_own_cpu(functions) -> dict:
    events, queries, rows = per_event(functions), per_query(functions), per_imported_row()
    return {
        "us_per_event": events["us_per_event"],
        "ms_per_query": queries["ms_per_query"],
        "us_per_imported_row": rows["us_per_row_outside_polars"],
        "events": events,
        "queries": queries,
        "import": rows,
        "target": "<= 50 us per event at 500 events a request; <= 0.3 ms per warm query; "
        "<= 1 us per imported row outside Polars",
    }
