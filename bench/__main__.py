"""`make bench`: every scenario against a baseline measured in the same run, plus AWS request counts.

Writes bench/results.json and prints a table. No network: AWS is moto, in this process.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from functools import partial
from importlib import metadata
from pathlib import Path
from urllib.parse import urlencode

import moto  # noqa: F401  (patches botocore before any client exists)
from botocore.handlers import BUILTIN_HANDLERS

from bench import costs
from local import lambdas, moto_fidelity, provision, template
from local.aws_calls import AWS_CALLS  # likewise: counts every client's calls
from local.gateway import Router, proxy_event
from local.stack import configure_process


class ModeledLatency:
    """A fixed round trip added to every AWS request while set, in both arms of a scenario: moto
    answers in its own milliseconds of Python, DynamoDB and Firehose over an in-region network."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self, **_) -> None:
        if self.seconds:
            time.sleep(self.seconds)


LATENCY = ModeledLatency()
IN_REGION_SECONDS = 0.005  # a DynamoDB request's in-region round trip, as the model assumes
BUILTIN_HANDLERS.append(("before-call", LATENCY))  # before any session copies the handlers

SPEC = template.load()
FUNCTIONS = template.functions(SPEC)
PLAN = provision.plan(SPEC)
configure_process(PLAN, FUNCTIONS, endpoint_url=None)
# A warm container for the whole run: its key and catalog copies do not expire mid-scenario.
os.environ |= {"AUTH_CACHE_SECONDS": "3600", "CATALOG_CACHE_SECONDS": "3600"}
moto_fidelity.install()

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

T = 1_748_851_070
CUSTOMER_QUERY = (
    "query($userId: String, $audiences: [String]) {customer(fs_user_id: $userId) "
    "{audiences(subset: $audiences) {edges {node {name state}}}}}"
)
RESULTS = Path(__file__).with_name("results.json")
MEMBERSHIPS = PLAN.names["MembershipsTable"]
LISTING_PAGES = 10  # moto's Query reads the whole table, which DynamoDB's does not: more would measure moto


@contextmanager
def fresh_aws():
    """A new, empty moto for each scenario: tables stay small (a moto Query sorts its table)."""
    from audiences import cache

    with mock_aws():
        provision.provision(PLAN)
        cache.clear_all()
        from local.seed import seed_demo

        yield seed_demo()


def timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def handlers() -> dict[str, lambdas.LocalFunction]:
    return {function.logical_id: lambdas.load(function) for function in FUNCTIONS}


def call(router: Router, method: str, path: str, key: str, body: object, query: dict | None = None) -> dict:
    target, params = router.match(method, path)
    headers = [("content-type", "application/json"), ("x-api-key", key), ("authorization", f"Bearer {key}")]
    raw_path = f"{path}?{urlencode(query)}" if query else path
    result = target.function.invoke(proxy_event(target, params, method, raw_path, headers, json.dumps(body).encode()))
    assert result["statusCode"] < 300, result["body"]
    return json.loads(result["body"])


def lww_update(dynamodb, pk: str, audience: str, state: str, ts: float) -> None:
    """The bare conditional write a passthrough event needs: no sizes, no archive, no validation."""
    with suppress(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.update_item(
            TableName=MEMBERSHIPS,
            Key={"pk": {"S": pk}, "sk": {"S": audience}},
            UpdateExpression="SET #s = :s, #t = :t",
            ConditionExpression="attribute_not_exists(#t) OR #t < :t",
            ExpressionAttributeNames={"#s": "state", "#t": "ts"},
            ExpressionAttributeValues={":s": {"S": state}, ":t": {"N": repr(ts)}},
        )


def passthrough(action: str, user: str, audience: str, ts: int) -> dict:
    return {
        "type": "passthrough",
        "action": action,
        "identifiers": {"fs_user_id": user},
        "data": {"audience_id": audience, "ts": ts},
    }


def fresh_transitions() -> list[dict]:
    """10,000 events that each move a size: 9,000 joins of distinct (user, audience) pairs, then
    1,000 leaves of members who joined in an earlier upload."""
    rng = random.Random(7)
    pairs = rng.sample([(user, audience) for user in range(2000) for audience in range(50)], 9000)
    joins = [passthrough("qualify", f"user-{u}", f"aud{a}", T + rng.randrange(1000)) for u, a in pairs]
    leaves = [passthrough("disqualify", f"user-{u}", f"aud{a}", T + 2000) for u, a in pairs[:1000]]
    return joins + leaves


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
    from audiences.stores import archive

    results = {}
    for size, uploads in ((1, 200), (10, 40), (500, 4)):
        with fresh_aws() as keys:
            router = Router(list(functions.values()))
            call(router, "POST", "/v3/events", keys["DEMO_PUBLIC_KEY"], [passthrough("qualify", "warm", "w", T)])
            batches = [
                [passthrough("qualify", f"u{n}-{i}", f"aud{i % 20}", T) for i in range(size)] for n in range(uploads)
            ]
            AWS_CALLS.reset()
            for batch in batches:
                call(router, "POST", "/v3/events", keys["DEMO_PUBLIC_KEY"], batch)
            counts = AWS_CALLS.counts()
            transactions = counts["dynamodb.TransactWriteItems"] / uploads
            per_upload = {
                "aws_requests": sum(counts.values()) / uploads,
                "transactions": transactions,
                "transaction_rounds": max(1, -(-transactions // 10)),  # 10 in flight
                "items_written": AWS_CALLS.items_written(MEMBERSHIPS) / uploads,
                "write_units": AWS_CALLS.write_units(MEMBERSHIPS) / uploads,
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
        }
    results["target"] = "1-event requests: <= 1.1 AWS req/event; cost per million events reported"
    results["prices"] = costs.PRICES
    return results


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


def bench_customer_query(functions) -> dict:
    """1,000 customer queries without a subset, on a table of one user in 5 audiences."""
    with fresh_aws() as keys:
        router = Router(list(functions.values()))
        for n in range(5):
            body = {"definition": {"external": {"external_audience_id": f"aud{n}"}}}
            call(router, "PUT", f"/v3/segments/seg_{n}", keys["DEMO_PRIVATE_KEY"], body)
        call(
            router,
            "POST",
            "/v3/events",
            keys["DEMO_PUBLIC_KEY"],
            [passthrough("qualify", "solo", f"aud{n}", T) for n in range(5)],
        )
        query = {"query": CUSTOMER_QUERY, "variables": {"userId": "solo"}}
        call(router, "POST", "/v3/graphql", keys["DEMO_PUBLIC_KEY"], query)  # warm: key, tenant, catalog
        AWS_CALLS.reset()
        ours = timed(lambda: [call(router, "POST", "/v3/graphql", keys["DEMO_PUBLIC_KEY"], query) for _ in range(1000)])
        counts = AWS_CALLS.counts()
        dynamodb = boto3.client("dynamodb", region_name=provision.REGION)
        pk = {":pk": {"S": "demo#fs_user_id#solo"}}

        def baseline():
            for _ in range(1000):
                dynamodb.query(TableName=MEMBERSHIPS, KeyConditionExpression="pk = :pk", ExpressionAttributeValues=pk)

        base = timed(baseline)
    return {
        "ours_seconds": ours,
        "baseline_seconds": base,
        "ratio": ours / base,
        "aws_requests_per_query": sum(counts.values()) / 1000,
        "requests": dict(counts),
        "target": "ratio <= 1.5 and 1 request per warm query",
    }


def bench_customer_subset(functions) -> dict:
    """1,000 queries of a 5-audience subset for a user in 1,000 audiences."""
    from audiences import memberships
    from audiences.domain import OPERATOR, Audience, MembershipChange, State, UserRef
    from audiences.stores import catalog as catalog_store

    rng = random.Random(23)
    with fresh_aws() as keys:
        router = Router(list(functions.values()))
        for n in range(1000):
            catalog_store.create_audience("demo", Audience(f"seg_{n:04}", f"aud{n}"), OPERATOR)
        user = UserRef("fs_user_id", "busy")
        memberships.apply("demo", [MembershipChange(user, f"aud{n}", State.QUALIFIED, T) for n in range(1000)])
        picks = [rng.sample(range(1000), 5) for _ in range(1000)]
        bodies = [
            {"query": CUSTOMER_QUERY, "variables": {"userId": "busy", "audiences": [f"seg_{n:04}" for n in pick]}}
            for pick in picks
        ]
        call(router, "POST", "/v3/graphql", keys["DEMO_PUBLIC_KEY"], bodies[0])  # warm: key, tenant, catalog
        AWS_CALLS.reset()
        ours = timed(lambda: [call(router, "POST", "/v3/graphql", keys["DEMO_PUBLIC_KEY"], b) for b in bodies])
        counts = AWS_CALLS.counts()
        dynamodb = boto3.client("dynamodb", region_name=provision.REGION)

        def baseline():
            for pick in picks:
                keys_ = [{"pk": {"S": "demo#fs_user_id#busy"}, "sk": {"S": f"aud{n}"}} for n in pick]
                dynamodb.batch_get_item(RequestItems={MEMBERSHIPS: {"Keys": keys_}})

        base = timed(baseline)
    return {
        "memberships_of_the_user": 1000,
        "ours_seconds": ours,
        "baseline_seconds": base,
        "ratio": ours / base,
        "aws_requests_per_query": sum(counts.values()) / len(bodies),
        "requests": dict(counts),
        "target": "ratio <= 2 against a bare BatchGetItem of the 5 keys; 1 request",
    }


def bench_concurrency() -> dict:
    """8 threads writing conflicting changes to one audience's 200 users through the write path."""
    from concurrent.futures import ThreadPoolExecutor

    from audiences import memberships
    from audiences.domain import MembershipChange, State, UserRef
    from tests.model import expected, observed

    rng = random.Random(29)
    changes = [
        MembershipChange(
            UserRef("fs_user_id", f"u{rng.randrange(200)}"), "hot", rng.choice(list(State)), T + rng.randrange(50)
        )
        for _ in range(8000)
    ]
    batches = [changes[start : start + 50] for start in range(0, len(changes), 50)]
    with fresh_aws():
        AWS_CALLS.reset()
        with ThreadPoolExecutor(max_workers=8) as writers:
            seconds = timed(lambda: list(writers.map(lambda batch: memberships.apply("demo", batch), batches)))
        counts, errors = AWS_CALLS.counts(), dict(AWS_CALLS.errors)
        exact = observed("demo", changes) == expected(changes)
    assert exact, "concurrent writers left states or sizes that differ from the sequential model"
    cancelled = sum(n for (call_, code), n in errors.items() if code == "TransactionCanceledException")
    return {
        "threads": 8,
        "events": len(changes),
        "seconds": seconds,
        "events_per_second": len(changes) / seconds,
        "aws_requests_per_event": sum(counts.values()) / len(changes),
        "cancelled_transactions_per_event": cancelled / len(changes),
        "requests": dict(counts),
        "errors": {f"{call_} {code}": n for (call_, code), n in errors.items()},
        "sizes_exact": exact,
        "target": "throughput, conflicts and retries per event reported; sizes exact",
    }


def measured(command: list[str]) -> tuple[str, float, float]:
    """stdout, wall seconds and peak RSS (MB) of a command, through bench.peak."""
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(lambdas.LAYER_DIR), str(template.ROOT)])}
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "bench.peak", *command], env=env, check=True, capture_output=True, text=True
    )
    return run.stdout, time.perf_counter() - started, json.loads(run.stderr.splitlines()[-1])["peak_rss_mb"]


def fair_coreutils(values: str, snapshot_file: Path, scratch: Path) -> str:
    """What our compute path does, in coreutils: sort the new values, diff them with the snapshot
    (already sorted, so not sorted again) and write the next snapshot with `gzip -1`, as ours
    does; the gzip runs beside the diff. Prints the number of changes."""
    current, following = scratch / "current.txt", scratch / "next-coreutils.txt.gz"
    return (
        f"{values} | LC_ALL=C sort -u > {current} && {{ gzip -1 -c {current} > {following} & "
        f"comm -3 {current} <(zcat {snapshot_file}) | wc -l; wait; }}"
    )


def compute_files(scratch: Path, members_total: int, seed: int) -> tuple[Path, Path, Path]:
    """An audience file of `members_total` rows, 1% churn against the previous snapshot, which is
    written in today's format and as Parquet."""
    import duckdb

    rng = random.Random(seed)
    churn = members_total // 100
    members = [f"user-{n:09d}" for n in rng.sample(range(1_000_000_000), members_total + churn)]
    previous, current = members[:members_total], members[: members_total - churn] + members[members_total:]
    rng.shuffle(current)
    new_file, snapshot_file, parquet_file = (
        scratch / "new.csv.gz",
        scratch / "previous.txt.gz",
        scratch / "previous.parquet",
    )
    with gzip.open(new_file, "wt", compresslevel=6) as out:
        out.write("type,action,audience_id,ts,fs_user_id\n")
        out.writelines(f"passthrough,qualify,bench,{T},{member}\n" for member in current)
    previous.sort()
    with gzip.open(snapshot_file, "wt", compresslevel=1) as out:
        out.writelines(f"{member}\n" for member in previous)
    duckdb.execute(
        f"COPY (SELECT column0 AS member FROM read_csv('{snapshot_file}', header = false, all_varchar = true, "
        f"delim = '\\t', quote = '', escape = '')) TO '{parquet_file}' (FORMAT parquet, COMPRESSION zstd)"
    )
    return new_file, snapshot_file, parquet_file


def compute_compared(scratch: Path, members_total: int, seed: int) -> dict:
    """Our compute path, DuckDB's (today's snapshots, and Parquet ones) and coreutils, same files."""
    new_file, snapshot_file, parquet_file = compute_files(scratch, members_total, seed)
    arms = {  # our snapshots are Parquet
        "ours": [sys.executable, "-m", "bench.compute", "odp", str(parquet_file), str(new_file)],
        "duckdb_text_snapshots": [sys.executable, "-m", "bench.duckdb_compute", str(snapshot_file), str(new_file)],
        "duckdb_parquet_snapshots": [sys.executable, "-m", "bench.duckdb_compute", str(parquet_file), str(new_file)],
    }
    results = {}
    for name, command in arms.items():
        out, wall, peak = measured(command)
        answer = json.loads(out)
        results[name] = {"seconds": wall, "peak_rss_mb": peak, "changes": answer["joined"] + answer["left"]}
    shell = fair_coreutils(f"zcat {new_file} | tail -n +2 | cut -d, -f5", snapshot_file, scratch)
    out, wall, peak = measured(["bash", "-c", shell])
    results["coreutils"] = {"seconds": wall, "peak_rss_mb": peak, "changes": int(out)}
    assert len({arm["changes"] for arm in results.values()}) == 1, results
    for arm in results.values():
        arm["ratio_to_coreutils"] = arm["seconds"] / results["coreutils"]["seconds"]
    return {"rows": members_total, **results}


def engine_errors_match(scratch: Path) -> bool:
    """DuckDB's errors equal ours (line numbers and messages) on a file with bad rows of every kind."""
    from audiences.domain import Audience, Confidence, Tenant
    from audiences.member_files import FileContext
    from audiences.odp.audience_file import AudienceFile

    rows = [
        "passthrough,qualify,bench,1748851070,ok-1",
        "fullstack,qualify,bench,1748851070,bad-type",
        "passthrough,disqualify,bench,1748851070,bad-action",
        "passthrough,qualify,other,1748851070,bad-audience",
        "passthrough,qualify,bench,1748851070000,milliseconds",
        "passthrough,qualify,bench,soon,not-a-number",
        "passthrough,qualify,bench,4102444800,far-future",
        "passthrough,qualify,bench,-5,negative",
        "passthrough,qualify,bench,1_748_851_070,python-int-literal",
        "passthrough,qualify,bench,1748851070,",
        "passthrough,qualify,bench,1748851070," + "x" * 1100,
        "passthrough,qualify,bench,1748851070,tab\there",
    ]
    path, snapshot = scratch / "bad.csv.gz", scratch / "empty.txt.gz"
    path.write_bytes(gzip.compress(("type,action,audience_id,ts,fs_user_id\n" + "\n".join(rows) + "\n").encode()))
    snapshot.write_bytes(gzip.compress(b""))
    now = time.time()
    context = FileContext(Tenant.of("bench", fs_user_id=Confidence.HIGH), Audience("bench_audience", "bench"), now, 300)
    ours = AudienceFile(path.open("rb"), path.stat().st_size, context)
    accepted = list(ours.members())
    command = [sys.executable, "-m", "bench.duckdb_compute", str(snapshot), str(path), repr(now)]
    engine = json.loads(measured(command)[0])
    return [list(error) for error in ours.errors.first] == engine["errors"] and engine["joined"] == len(accepted)


def bench_import_compute(scratch: Path) -> dict:
    million = compute_compared(scratch, 1_000_000, seed=13)
    ten_million = compute_compared(scratch, 10_000_000, seed=31)
    ours, base = million["ours"], million["coreutils"]
    return {
        "rows": million["rows"],
        "ours_seconds": ours["seconds"],
        "baseline_seconds": base["seconds"],
        "ratio": ours["seconds"] / base["seconds"],
        "peak_rss_mb": ours["peak_rss_mb"],
        "baseline_peak_rss_mb": base["peak_rss_mb"],
        "engines": {"1000000": million, "10000000": ten_million},
        "duckdb_errors_equal_ours": engine_errors_match(scratch),
        "target": "ratio <= 1.0 and peak RSS <= 512 MB",
    }


def bench_run_compute(scratch: Path) -> dict:
    """An Adobe run's compute path: 1,000,000 rows over 4 gzip source files, typed fields, 1% churn."""
    rng = random.Random(19)
    members = [f"user-{n:09d}@example.com" for n in rng.sample(range(100_000_000), 1_010_000)]
    previous, current = members[:1_000_000], members[:990_000] + members[1_000_000:]
    rng.shuffle(current)
    files = [scratch / f"part-{n}.csv.gz" for n in range(4)]
    for n, path in enumerate(files):
        with gzip.open(path, "wt", compresslevel=6) as out:
            out.write("score,email\n")
            out.writelines(f"{rng.randrange(1000) / 10},{member}\n" for member in current[n::4])
    snapshot_file = scratch / "previous-emails.txt.gz"
    with gzip.open(snapshot_file, "wt", compresslevel=6) as out:
        out.writelines(f"{member}\n" for member in sorted(previous))
    compute = [sys.executable, "-m", "bench.compute", "adobe", str(snapshot_file), *map(str, files)]
    out, ours_wall, ours_peak = measured(compute)
    ours = json.loads(out)
    each = " ".join(f"<(zcat {path} | tail -n +2)" for path in files)
    shell = fair_coreutils(f"cat {each} | cut -d, -f2", snapshot_file, scratch)
    out, base_wall, base_peak = measured(["bash", "-c", shell])
    assert int(out) == ours["joined"] + ours["left"], (out, ours)
    return {
        "rows": ours["rows"],
        "files": len(files),
        "changes": ours["joined"] + ours["left"],
        "ours_seconds": ours_wall,
        "baseline_seconds": base_wall,
        "ratio": ours_wall / base_wall,
        "peak_rss_mb": ours_peak,
        "baseline_peak_rss_mb": base_peak,
        "target": "ratio <= 2 and peak RSS <= 256 MB",
    }


def bench_expiry_sweep() -> dict:
    """A sweep of one TTL audience of 10,000 members, 1,000 of them expired, on moto."""
    from audiences import expiry, memberships
    from audiences.domain import DAY_SECONDS, OPERATOR, Audience, MembershipChange, State, UserRef
    from audiences.stores import catalog as catalog_store

    now = time.time()
    with fresh_aws():
        catalog_store.create_audience("demo", Audience("ttl_aud", "ttl", ttl_days=1), OPERATOR)
        changes = [
            MembershipChange(
                UserRef("email", f"u{n}@x.com"), "ttl", State.QUALIFIED, now - (2 if n < 1000 else 0) * DAY_SECONDS
            )
            for n in range(10_000)
        ]
        for start in range(0, len(changes), 500):
            memberships.apply("demo", changes[start : start + 500])
        for n in range(1000):  # the baseline's copy of the expired members
            lww_update(
                boto3.client("dynamodb", region_name=provision.REGION),
                f"base#email#u{n}@x.com",
                "ttl",
                "qualified",
                now - 2 * DAY_SECONDS,
            )
        AWS_CALLS.reset()
        started = time.perf_counter()
        swept = expiry.sweep(now=now)
        ours = time.perf_counter() - started
        counts = AWS_CALLS.counts()
        assert swept.expired == 1000, swept
        dynamodb = boto3.client("dynamodb", region_name=provision.REGION)

        def baseline():
            for n in range(1000):
                lww_update(dynamodb, f"base#email#u{n}@x.com", "ttl", "disqualified", now - DAY_SECONDS)

        base = timed(baseline)
    return {
        "members": 10_000,
        "expired": swept.expired,
        "ours_seconds": ours,
        "baseline_seconds": base,
        "ratio": ours / base,
        "aws_requests_per_expired": sum(counts.values()) / swept.expired,
        "requests": dict(counts),
        "target": "ratio <= 1.3; requests grow with the members expired, not the audience",
    }


def bench_import_end_to_end() -> dict:
    from audiences import importer
    from audiences.domain import OPERATOR, Audience
    from audiences.odp.audience_file import AudienceFile
    from audiences.stores import catalog as catalog_store

    rng = random.Random(17)
    members = [f"user-{n}" for n in rng.sample(range(1_000_000), 10_500)]
    first, second = members[:10_000], members[500:10_500]  # 5% leave, 5% join: 10% churn
    bucket = PLAN.names["ImportsBucket"]

    def upload(values, seconds_later: float) -> importer.Upload:
        data = gzip.compress(
            (
                "type,action,audience_id,ts,fs_user_id\n"
                + "".join(f"passthrough,qualify,imp,{T},{v}\n" for v in values)
            ).encode()
        )
        key = "demo/audience-diffs/imp_seg.csv.gz"
        etag = boto3.client("s3", region_name=provision.REGION).put_object(Bucket=bucket, Key=key, Body=data)["ETag"]
        return importer.Upload(bucket, key, etag, len(data), time.time() + seconds_later)

    sqs = boto3.client("sqs", region_name=provision.REGION)

    def apply_all() -> int:
        """Every queued chunk, applied by one worker, as ApplyFunction would; returns how many."""
        url, applied = sqs.get_queue_url(QueueName=PLAN.names["ApplyQueue"])["QueueUrl"], 0
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            for message in messages:
                for chunk in importer.chunks(message["Body"]):
                    importer.apply_chunk(chunk)
                    applied += 1
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return applied

    with fresh_aws():
        catalog_store.create_audience("demo", Audience("imp_seg", "imp"), OPERATOR)
        importer.process(upload(first, 0), AudienceFile)
        apply_all()
        assert importer.import_store.page("demo", None, None, None, 1)[0][0].qualified == 10_000
        second_upload = upload(second, 1)
        AWS_CALLS.reset()
        planning = timed(lambda: importer.process(second_upload, AudienceFile))
        planned = AWS_CALLS.counts()
        chunks: list[int] = []
        applying = timed(lambda: chunks.append(apply_all()))
        ours = planning + applying
        record = importer.import_store.get("demo", second_upload.import_id)
        assert record.status.value == "SUCCESS", record
        items, units = AWS_CALLS.items_written(MEMBERSHIPS), AWS_CALLS.write_units(MEMBERSHIPS)
        changes = record.qualified + record.disqualified
        counts = AWS_CALLS.counts()
        applied_counts = {call: counts[call] - planned.get(call, 0) for call in counts}
        dynamodb = boto3.client("dynamodb", region_name=provision.REGION)
        joined, left = set(second) - set(first), set(first) - set(second)

        def baseline():
            for value in joined:
                lww_update(dynamodb, f"base#fs_user_id#{value}", "imp", "qualified", T + 1)
            for value in left:
                lww_update(dynamodb, f"base#fs_user_id#{value}", "imp", "disqualified", T + 1)

        base = timed(baseline)
    return {
        "members": len(second),
        "changes": changes,
        "ours_seconds": ours,
        "baseline_seconds": base,
        "ratio": ours / base,
        "write_amplification": {
            "requests_per_change": counts["dynamodb.TransactWriteItems"] / changes,
            "items_per_change": items / changes,
            "write_units_per_change": units / changes,
        },
        "apply": {
            "chunks": chunks[0],
            "changes_per_second_per_worker": changes / applying,
            "aws_requests_per_change": sum(applied_counts.values()) / changes,
            "planning_seconds": planning,
            "planning_requests": dict(planned),
        },
        "requests": dict(counts),
        "target": "ratio <= 0.6 and items written per change <= 1.1",
    }


def bench_audience_listing(functions) -> dict:
    """The first LISTING_PAGES pages of 10,000 audiences through Segment's list route, 200 a page."""
    from audiences.domain import OPERATOR, Audience
    from audiences.stores import catalog as catalog_store

    catalog_table, index = PLAN.names["CatalogTable"], "ByCreation"
    with fresh_aws() as keys:
        for n in range(10_000):
            catalog_store.create_audience("demo", Audience(f"aud_{n:05}", f"ext_{n:05}"), OPERATOR)
        router = Router(list(functions.values()))
        path, token = "/spaces/demo/audiences", keys["DEMO_PRIVATE_KEY"]
        call(router, "GET", path, token, None, {"pagination.count": "1"})  # warm container

        def ours_walk() -> int:
            cursor = None
            for _ in range(LISTING_PAGES):
                query = {"pagination.count": "200"} | ({"pagination.cursor": cursor} if cursor else {})
                cursor = call(router, "GET", path, token, None, query)["data"]["pagination"]["next"]
            return LISTING_PAGES

        AWS_CALLS.reset()
        started = time.perf_counter()
        pages = ours_walk()
        ours = time.perf_counter() - started
        counts = AWS_CALLS.counts()
        dynamodb = boto3.client("dynamodb", region_name=provision.REGION)

        def baseline():
            start = None
            for _ in range(LISTING_PAGES):
                found = dynamodb.query(
                    TableName=catalog_table,
                    IndexName=index,
                    KeyConditionExpression="pk = :pk",
                    ExpressionAttributeValues={":pk": {"S": "demo"}},
                    Limit=200,
                    **({"ExclusiveStartKey": start} if start else {}),
                )
                shard_keys = [
                    {"pk": {"S": f"SIZE#demo#{shard}#{item['external_id']['S']}"}, "sk": {"S": "SIZE"}}
                    for item in found["Items"]
                    for shard in range(16)
                ]
                for batch in range(0, len(shard_keys), 100):
                    dynamodb.batch_get_item(RequestItems={MEMBERSHIPS: {"Keys": shard_keys[batch : batch + 100]}})
                dynamodb.get_item(TableName=catalog_table, Key={"pk": {"S": "demo"}, "sk": {"S": "COUNT"}})
                start = found["LastEvaluatedKey"]

        base = timed(baseline)
    return {
        "audiences": 10_000,
        "pages": pages,
        "ours_seconds": ours,
        "baseline_seconds": base,
        "ratio": ours / base,
        "aws_requests_per_page": sum(counts.values()) / pages,
        "requests": dict(counts),
        "target": "ratio <= 1.5; per page 1 Query, 1 GetItem, 1 UpdateItem, 32 BatchGetItem, whatever the catalog size",
    }


LAMBDA_LIKE = {
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_REGION": "us-east-1",
    "LAMBDA_TASK_ROOT": "/var/task",
    "_HANDLER": "app.lambda_handler",
}


def bench_cold_start() -> dict:
    """Each function's import in a fresh interpreter, in a Lambda-like environment (LAMBDA_LIKE:
    tracing on, as in Lambda; no X-Ray daemon needed to import)."""
    env = os.environ | LAMBDA_LIKE | {"PYTHONDONTWRITEBYTECODE": "1"}

    def median_seconds(code: str, path: list[str]) -> float:
        runs = []
        for _ in range(7):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], env=env | {"PYTHONPATH": os.pathsep.join(path)}, check=True)
            runs.append(time.perf_counter() - started)
        return statistics.median(runs)

    baseline = median_seconds("import boto3", [])
    results = {"baseline_seconds": baseline, "environment": LAMBDA_LIKE, "target": "ratio <= 2 for each function"}
    for function in FUNCTIONS:
        module = function.handler.rsplit(".", 1)[0].replace("/", ".")  # console/app: a path under CodeUri
        seconds = median_seconds(f"import {module}", [str(function.code_dir), str(lambdas.LAYER_DIR)])
        results[function.logical_id] = {"seconds": seconds, "ratio": seconds / baseline}
    return results


def versions() -> dict:
    names = [
        "boto3",
        "botocore",
        "moto",
        "aws-lambda-powertools",
        "pynamodb",
        "ariadne",
        "graphql-core",
        "polars",
        "duckdb",
    ]
    return {name: metadata.version(name) for name in names}


def main() -> None:
    started = time.perf_counter()
    functions = handlers()
    results: dict = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "versions": versions(),
    }
    print("ingest: 10,000 fresh transitions …", flush=True)
    results["ingest"] = bench_ingest(functions, latency=0.0)
    print(f"ingest: the same with {IN_REGION_SECONDS * 1000:.0f} ms per AWS request …", flush=True)
    results["ingest_in_region"] = bench_ingest(functions, latency=IN_REGION_SECONDS)
    print("ingest: requests of 1, 10 and 500 events …", flush=True)
    results["ingest_request_sizes"] = bench_ingest_request_sizes(functions)
    print("tracking: the 10,000 transitions as Engage calls to Segment's Tracking API …", flush=True)
    results["tracking"] = bench_tracking(functions)
    print("concurrency: 8 writers, one audience …", flush=True)
    results["concurrency"] = bench_concurrency()
    print("customer query: 1,000 queries, one user …", flush=True)
    results["customer_query"] = bench_customer_query(functions)
    print("customer query: 1,000 subsets of 5, a user in 1,000 audiences …", flush=True)
    results["customer_subset"] = bench_customer_subset(functions)
    print("import compute: 1,000,000 rows …", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        results["import_compute"] = bench_import_compute(Path(scratch))
    print("run compute: 1,000,000 rows over 4 files …", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        results["run_compute"] = bench_run_compute(Path(scratch))
    print("expiry sweep: 1,000 of 10,000 members expired …", flush=True)
    results["expiry_sweep"] = bench_expiry_sweep()
    print("import end to end: 10,000 members, 10% churn …", flush=True)
    results["import_end_to_end"] = bench_import_end_to_end()
    print("audience listing: 10,000 audiences, 200 a page …", flush=True)
    results["audience_listing"] = bench_audience_listing(functions)
    print("cold start …", flush=True)
    results["cold_start"] = bench_cold_start()
    results["total_seconds"] = time.perf_counter() - started
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))


def _row(name: str, entry: dict, other: str) -> tuple:
    return (
        name,
        f"{entry['ours_seconds']:.2f}s",
        f"{entry['baseline_seconds']:.2f}s",
        f"{entry['ratio']:.2f}x",
        other,
        entry["target"],
    )


def engine_rows(compute: dict) -> list[tuple]:
    rows = []
    for size, label in (("1000000", "1M"), ("10000000", "10M")):
        entry = compute["engines"][size]
        base = entry["coreutils"]
        for arm, name in (
            ("ours", "ours"),
            ("duckdb_text_snapshots", "DuckDB, text"),
            ("duckdb_parquet_snapshots", "DuckDB, Parquet"),
        ):
            if (size, arm) == ("1000000", "ours"):
                continue  # the row above
            rows.append(
                (
                    f"compute {label} rows: {name}",
                    f"{entry[arm]['seconds']:.2f}s",
                    f"{base['seconds']:.2f}s",
                    f"{entry[arm]['ratio_to_coreutils']:.2f}x",
                    f"peak RSS {entry[arm]['peak_rss_mb']:.0f} MB"
                    + ("; errors equal ours" if arm != "ours" and compute["duckdb_errors_equal_ours"] else ""),
                    compute["target"],
                )
            )
    return rows


def table(results: dict) -> str:
    ingest, near, sizes = results["ingest"], results["ingest_in_region"], results["ingest_request_sizes"]
    query, subset, hot = results["customer_query"], results["customer_subset"], results["concurrency"]
    compute, end_to_end, cold = results["import_compute"], results["import_end_to_end"], results["cold_start"]
    listing, run, sweep = results["audience_listing"], results["run_compute"], results["expiry_sweep"]
    amplification, apply = end_to_end["write_amplification"], end_to_end["apply"]
    one, ten, full = sizes["1"], sizes["10"], sizes["500"]
    rows = [
        ("scenario", "ours", "baseline", "ratio", "other", "target"),
        _row("ingest 10k fresh transitions", ingest, f"{ingest['aws_requests_per_event']:.3f} AWS req/event"),
        _row("ingest 10k, 5 ms per request", near, f"{near['aws_requests_per_event']:.3f} AWS req/event"),
        (
            "ingest in 1/10/500-event requests",
            "",
            "",
            "",
            f"{one['aws_requests_per_event']:.2f}/{ten['aws_requests_per_event']:.2f}/"
            f"{full['aws_requests_per_event']:.3f} AWS req/event; $"
            f"{one['cost_per_million_events']['total']:.2f}/{ten['cost_per_million_events']['total']:.2f}/"
            f"{full['cost_per_million_events']['total']:.2f} per million events",
            sizes["target"],
        ),
        _row(
            "Segment Tracking API, 10k Engage calls",
            results["tracking"],
            f"vs ODP events, batches of 100; {results['tracking']['aws_requests_per_event']:.3f} AWS req/event "
            f"(ODP {results['tracking']['odp_aws_requests_per_event']:.3f})",
        ),
        (
            "concurrency: 8 writers, 1 audience",
            f"{hot['seconds']:.2f}s",
            "",
            "",
            f"{hot['events_per_second']:.0f} events/s; {hot['aws_requests_per_event']:.3f} req/event; "
            f"{hot['cancelled_transactions_per_event']:.3f} cancelled/event; sizes exact",
            hot["target"],
        ),
        _row("customer query, 1-user table", query, f"{query['aws_requests_per_query']:.2f} AWS req/query"),
        _row("customer subset 5 of 1,000", subset, f"{subset['aws_requests_per_query']:.2f} AWS req/query"),
        _row(
            "import compute 1M rows",
            compute,
            f"peak RSS {compute['peak_rss_mb']:.0f} MB (coreutils {compute['baseline_peak_rss_mb']:.0f} MB)",
        ),
        *engine_rows(compute),
        _row(
            "run compute 1M rows, 4 files",
            run,
            f"peak RSS {run['peak_rss_mb']:.0f} MB (coreutils {run['baseline_peak_rss_mb']:.0f} MB)",
        ),
        _row("expiry sweep 1k of 10k", sweep, f"{sweep['aws_requests_per_expired']:.3f} AWS req/expired"),
        _row(
            "import end to end 10k",
            end_to_end,
            f"per change: {amplification['requests_per_change']:.3f} req, {amplification['items_per_change']:.3f} "
            f"items, {amplification['write_units_per_change']:.2f} WU",
        ),
        (
            "apply 1k changes, one worker",
            f"{end_to_end['changes'] / apply['changes_per_second_per_worker']:.2f}s",
            "",
            "",
            f"{apply['chunks']} chunks; {apply['changes_per_second_per_worker']:.0f} changes/s; "
            f"{apply['aws_requests_per_change']:.3f} AWS req/change",
            "reported (moto's per-item cost sets it here; performance.md models AWS)",
        ),
        _row("audience listing 10 pages of 10k", listing, f"{listing['aws_requests_per_page']:.1f} AWS req/page"),
    ]
    for function in FUNCTIONS:
        entry = cold[function.logical_id]
        rows.append(
            (
                f"cold start {function.logical_id}",
                f"{entry['seconds']:.2f}s",
                f"{cold['baseline_seconds']:.2f}s",
                f"{entry['ratio']:.2f}x",
                "vs import boto3, Lambda-like env",
                cold["target"],
            )
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["table"]:  # the last run's table again, from bench/results.json
        print(table(json.loads(RESULTS.read_text())))
    else:
        main()
