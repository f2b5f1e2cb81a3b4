"""`make bench`: every scenario against a baseline measured in the same run, plus AWS request counts.

Writes bench/results.json and prints a table. No network: AWS is moto, in this process.
"""

from __future__ import annotations

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
from importlib import metadata
from pathlib import Path
from urllib.parse import urlencode

import moto  # noqa: F401  (patches botocore before any client exists)

from local import lambdas, moto_fidelity, provision, template
from local.aws_calls import AWS_CALLS  # likewise: counts every client's calls
from local.gateway import Router, proxy_event
from local.stack import configure_process

SPEC = template.load()
FUNCTIONS = template.functions(SPEC)
PLAN = provision.plan(SPEC)
configure_process(PLAN, FUNCTIONS, endpoint_url=None)
moto_fidelity.install()

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

T = 1_748_851_070
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


def bench_ingest(functions) -> dict:
    rng = random.Random(7)
    events = [
        passthrough(
            "disqualify" if rng.random() < 0.1 else "qualify",
            f"user-{rng.randrange(2000)}",
            f"aud{rng.randrange(50)}",
            T + rng.randrange(1000),
        )
        for _ in range(10_000)
    ]
    batches = [events[start : start + 500] for start in range(0, len(events), 500)]
    with fresh_aws() as keys:
        router = Router(list(functions.values()))
        call(router, "POST", "/v3/events", keys["DEMO_PUBLIC_KEY"], batches[0][:10])  # warm container
        AWS_CALLS.reset()
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
    return {
        "ours_seconds": ours,
        "baseline_seconds": base,
        "ratio": ours / base,
        "aws_requests_per_event": sum(counts.values()) / len(events),
        "requests": dict(counts),
        "target": "ratio <= 1.3",
    }


def bench_customer_query(functions) -> dict:
    rng = random.Random(11)
    with fresh_aws() as keys:
        router = Router(list(functions.values()))
        for n in range(50):
            body = {"definition": {"external": {"external_audience_id": f"aud{n}"}}}
            call(router, "PUT", f"/v3/segments/seg_{n}", keys["DEMO_PRIVATE_KEY"], body)
        users = [f"user-{n}" for n in range(500)]
        events = [passthrough("qualify", user, f"aud{a}", T) for user in users for a in rng.sample(range(50), 8)]
        for start in range(0, len(events), 500):
            call(router, "POST", "/v3/events", keys["DEMO_PUBLIC_KEY"], events[start : start + 500])
        query = (
            "query($userId: String, $audiences: [String]) {customer(fs_user_id: $userId) "
            "{audiences(subset: $audiences) {edges {node {name state}}}}}"
        )
        picks = [(rng.choice(users), [f"seg_{a}" for a in rng.sample(range(50), 5)]) for _ in range(1000)]

        def ours_queries():
            for user, subset in picks:
                call(
                    router,
                    "POST",
                    "/v3/graphql",
                    keys["DEMO_PUBLIC_KEY"],
                    {"query": query, "variables": {"userId": user, "audiences": subset}},
                )

        call(
            router, "POST", "/v3/graphql", keys["DEMO_PUBLIC_KEY"], {"query": query, "variables": {"userId": users[0]}}
        )
        AWS_CALLS.reset()
        ours = timed(ours_queries)
        counts = AWS_CALLS.counts()
        dynamodb = boto3.client("dynamodb", region_name=provision.REGION)

        def baseline():
            for user, _ in picks:
                dynamodb.query(
                    TableName=MEMBERSHIPS,
                    KeyConditionExpression="pk = :pk",
                    ExpressionAttributeValues={":pk": {"S": f"demo#fs_user_id#{user}"}},
                )

        base = timed(baseline)
    return {
        "ours_seconds": ours,
        "baseline_seconds": base,
        "ratio": ours / base,
        "aws_requests_per_query": sum(counts.values()) / len(picks),
        "requests": dict(counts),
        "target": "ratio <= 1.5 and exactly 1 DynamoDB request per warm query",
    }


def measured(command: list[str]) -> tuple[str, float, float]:
    """stdout, wall seconds and peak RSS (MB) of a command, through bench.peak."""
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(lambdas.LAYER_DIR), str(template.ROOT)])}
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "bench.peak", *command], env=env, check=True, capture_output=True, text=True
    )
    return run.stdout, time.perf_counter() - started, json.loads(run.stderr.splitlines()[-1])["peak_rss_mb"]


def bench_import_compute(scratch: Path) -> dict:
    rng = random.Random(13)
    members = [f"user-{n:09d}" for n in rng.sample(range(100_000_000), 1_010_000)]
    previous, current = members[:1_000_000], members[:990_000] + members[1_000_000:]  # 1% churn
    rng.shuffle(current)
    new_file, snapshot_file = scratch / "new.csv.gz", scratch / "previous.txt.gz"
    with gzip.open(new_file, "wt", compresslevel=6) as out:
        out.write("type,action,audience_id,ts,fs_user_id\n")
        out.writelines(f"passthrough,qualify,bench,{T},{member}\n" for member in current)
    with gzip.open(snapshot_file, "wt", compresslevel=6) as out:
        out.writelines(f"{member}\n" for member in sorted(previous))
    out, ours_wall, ours_peak = measured(
        [sys.executable, "-m", "bench.compute", "odp", str(snapshot_file), str(new_file)]
    )
    ours = json.loads(out)
    shell = (
        f"comm -3 <(zcat {new_file} | tail -n +2 | cut -d, -f5 | LC_ALL=C sort -u) "
        f"<(zcat {snapshot_file} | LC_ALL=C sort) | wc -l"
    )
    out, base_wall, base_peak = measured(["bash", "-c", shell])
    assert int(out) == ours["joined"] + ours["left"], (out, ours)
    return {
        "rows": ours["rows"],
        "changes": ours["joined"] + ours["left"],
        "ours_seconds": ours_wall,
        "baseline_seconds": base_wall,
        "ratio": ours_wall / base_wall,
        "peak_rss_mb": ours_peak,
        "baseline_peak_rss_mb": base_peak,
        "target": "ratio <= 2 and peak RSS <= 256 MB",
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
    shell = f"comm -3 <(cat {each} | cut -d, -f2 | LC_ALL=C sort -u) <(zcat {snapshot_file} | LC_ALL=C sort) | wc -l"
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

    with fresh_aws():
        catalog_store.create_audience("demo", Audience("imp_seg", "imp"), OPERATOR)
        assert importer.process(upload(first, 0), lambda: 900, AudienceFile).qualified == 10_000
        second_upload = upload(second, 1)
        AWS_CALLS.reset()
        ours = timed(lambda: importer.process(second_upload, lambda: 900, AudienceFile))
        record = importer.import_store.get("demo", second_upload.import_id)
        written = AWS_CALLS.items_written(MEMBERSHIPS)
        changes = record.qualified + record.disqualified
        counts = AWS_CALLS.counts()
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
        "membership_writes": written,
        "write_amplification": written / changes,
        "requests": dict(counts),
        "target": "write amplification 1.0",
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


def bench_cold_start() -> dict:
    env = os.environ | {"PYTHONDONTWRITEBYTECODE": "1"}

    def median_seconds(code: str, path: list[str]) -> float:
        runs = []
        for _ in range(7):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], env=env | {"PYTHONPATH": os.pathsep.join(path)}, check=True)
            runs.append(time.perf_counter() - started)
        return statistics.median(runs)

    baseline = median_seconds("import boto3", [])
    results = {"baseline_seconds": baseline, "target": "ratio <= 2.5 for each function"}
    for function in FUNCTIONS:
        seconds = median_seconds("import app", [str(function.code_dir), str(lambdas.LAYER_DIR)])
        results[function.logical_id] = {"seconds": seconds, "ratio": seconds / baseline}
    return results


def versions() -> dict:
    names = ["boto3", "botocore", "moto", "aws-lambda-powertools", "pynamodb", "ariadne", "graphql-core"]
    return {name: metadata.version(name) for name in names}


def main() -> None:
    started = time.perf_counter()
    functions = handlers()
    results: dict = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "versions": versions(),
    }
    print("ingest: 10,000 events …", flush=True)
    results["ingest"] = bench_ingest(functions)
    print("customer query: 1,000 queries …", flush=True)
    results["customer_query"] = bench_customer_query(functions)
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


def table(results: dict) -> str:
    ingest, query = results["ingest"], results["customer_query"]
    compute, end_to_end, cold = results["import_compute"], results["import_end_to_end"], results["cold_start"]
    listing = results["audience_listing"]
    run, sweep = results["run_compute"], results["expiry_sweep"]
    rows = [
        ("scenario", "ours", "baseline", "ratio", "other", "target"),
        (
            "ingest 10k events",
            f"{ingest['ours_seconds']:.2f}s",
            f"{ingest['baseline_seconds']:.2f}s",
            f"{ingest['ratio']:.2f}x",
            f"{ingest['aws_requests_per_event']:.3f} AWS req/event",
            ingest["target"],
        ),
        (
            "customer query x1000",
            f"{query['ours_seconds']:.2f}s",
            f"{query['baseline_seconds']:.2f}s",
            f"{query['ratio']:.2f}x",
            f"{query['aws_requests_per_query']:.2f} AWS req/query",
            query["target"],
        ),
        (
            "import compute 1M rows",
            f"{compute['ours_seconds']:.2f}s",
            f"{compute['baseline_seconds']:.2f}s",
            f"{compute['ratio']:.2f}x",
            f"peak RSS {compute['peak_rss_mb']:.0f} MB (coreutils {compute['baseline_peak_rss_mb']:.0f} MB)",
            compute["target"],
        ),
        (
            "run compute 1M rows, 4 files",
            f"{run['ours_seconds']:.2f}s",
            f"{run['baseline_seconds']:.2f}s",
            f"{run['ratio']:.2f}x",
            f"peak RSS {run['peak_rss_mb']:.0f} MB (coreutils {run['baseline_peak_rss_mb']:.0f} MB)",
            run["target"],
        ),
        (
            "expiry sweep 1k of 10k",
            f"{sweep['ours_seconds']:.2f}s",
            f"{sweep['baseline_seconds']:.2f}s",
            f"{sweep['ratio']:.2f}x",
            f"{sweep['aws_requests_per_expired']:.3f} AWS req/expired",
            sweep["target"],
        ),
        (
            "import end to end 10k",
            f"{end_to_end['ours_seconds']:.2f}s",
            f"{end_to_end['baseline_seconds']:.2f}s",
            f"{end_to_end['ratio']:.2f}x",
            f"write amplification {end_to_end['write_amplification']:.2f}",
            end_to_end["target"],
        ),
        (
            "audience listing 10 pages of 10k",
            f"{listing['ours_seconds']:.2f}s",
            f"{listing['baseline_seconds']:.2f}s",
            f"{listing['ratio']:.2f}x",
            f"{listing['aws_requests_per_page']:.1f} AWS req/page",
            listing["target"],
        ),
    ]
    for function in FUNCTIONS:
        entry = cold[function.logical_id]
        rows.append(
            (
                f"cold start {function.logical_id}",
                f"{entry['seconds']:.2f}s",
                f"{cold['baseline_seconds']:.2f}s",
                f"{entry['ratio']:.2f}x",
                "vs import boto3",
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
    main()
