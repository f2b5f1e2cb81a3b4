"""`make bench`: every scenario against a baseline measured in the same run, plus AWS request counts.

Writes bench/results.json and prints a table. No network: AWS is moto, in this process.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from bench import harness
from bench.harness import IN_REGION_SECONDS, RESULTS
from bench.report import table


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
    harness.setup()  # before any AWS client exists
    from bench import (
        cold_start,
        concurrency,
        engines,
        expiry,
        imports,
        ingest,
        listing,
        member_lists,
        own_cpu,
        physics,
        privacy,
        queries,
    )

    started = time.perf_counter()
    functions = harness.handlers()
    results: dict = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "versions": versions(),
    }
    print("ingest: 10,000 fresh transitions …", flush=True)
    results["ingest"] = ingest.bench_ingest(functions, latency=0.0)
    print(f"ingest: the same with {IN_REGION_SECONDS * 1000:.0f} ms per AWS request …", flush=True)
    results["ingest_in_region"] = ingest.bench_ingest(functions, latency=IN_REGION_SECONDS)
    print("ingest: requests of 1, 10 and 500 events …", flush=True)
    results["ingest_request_sizes"] = ingest.bench_ingest_request_sizes(functions)
    results["small_uploads"] = ingest.small_uploads(results["ingest_request_sizes"])
    print("ingest: where the write units land, one audience and one tenant …", flush=True)
    results["ingest_heat"] = physics.bench_ingest_heat(functions)
    print("tracking: the 10,000 transitions as Engage calls to Segment's Tracking API …", flush=True)
    results["tracking"] = ingest.bench_tracking(functions)
    print("concurrency: 8 writers, one audience …", flush=True)
    results["concurrency"] = concurrency.bench_concurrency()
    print("conflicts: 10 apply workers, one audience …", flush=True)
    results["conflicts"] = {"workers_10": imports.bench_conflicts(workers=10)}
    print("customer query: 1,000 queries, one user …", flush=True)
    results["customer_query"] = queries.bench_customer_query(functions)
    print("customer query: 1,000 subsets of 5, a user in 1,000 audiences …", flush=True)
    results["customer_subset"] = queries.bench_customer_subset(functions)
    print("import compute: 1,000,000 and 10,000,000 rows …", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        results["import_compute"] = engines.bench_import_compute(Path(scratch))
    print("run compute: 1,000,000 rows over 4 files …", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        results["run_compute"] = engines.bench_run_compute(Path(scratch))
    print("expiry sweep: 1,000 of 10,000 members expired …", flush=True)
    results["expiry_sweep"] = expiry.bench_expiry_sweep()
    print("import end to end: 10,000 members, 10% churn …", flush=True)
    results["import_end_to_end"] = imports.bench_import_end_to_end()
    print("planning: first imports of 1,000,000 and 10,000,000 members …", flush=True)
    results["planning"] = {}
    for members in (1_000_000, 10_000_000):
        with tempfile.TemporaryDirectory() as scratch:
            results["planning"][str(members)] = imports.bench_planning(members, Path(scratch))
    print("audience listing: 10,000 audiences, 200 a page …", flush=True)
    results["audience_listing"] = listing.bench_audience_listing(functions)
    print("privacy: a 1,000-subject delete over 10^6 archived events …", flush=True)
    results["privacy_delete"] = privacy.bench_privacy_delete()
    print("privacy: 1,000 subjects erased from a 10^7-member list, streamed through the function's /tmp …", flush=True)
    results["member_list_erasure"] = member_lists.bench_member_list_erasure()
    print("own CPU: events, queries and an import with AWS's answers replayed …", flush=True)
    results["own_cpu"] = own_cpu.bench_own_cpu(functions)
    print("cold start: INIT and first response of each API function …", flush=True)
    results["cold_start"] = cold_start.bench_cold_start()
    results["key_heat"] = {
        "ingest": results["ingest_heat"]["one_audience"],
        "ingest_1_event_requests": results["ingest_heat"]["one_audience_1_event_requests"],
        "ingest_one_tenant": results["ingest_heat"]["one_tenant_50_audiences"],
        "import_end_to_end": results["import_end_to_end"]["key_heat"],
        "expiry": results["expiry_sweep"]["key_heat"],
        "target": "hottest_share <= 1/64 (0.0157) for ingest, import_end_to_end and expiry",
    }
    results["model_1e8"] = physics.model_1e8(results)
    results["model_ingest_1e4"] = physics.model_ingest_1e4(results)
    results["total_seconds"] = time.perf_counter() - started
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))


def remodel() -> dict:
    """The AWS models again from the last run's measurements (after a change to bench/aws_model.py)."""
    from bench import physics

    results = json.loads(RESULTS.read_text())
    results["model_1e8"] = physics.model_1e8(results)
    results["model_ingest_1e4"] = physics.model_ingest_1e4(results)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    if sys.argv[1:] == ["table"]:  # the last run's table again, from bench/results.json
        print(table(json.loads(RESULTS.read_text())))
    elif sys.argv[1:] == ["model"]:
        print(table(remodel()))
    elif sys.argv[1:] == ["privacy"]:  # the privacy scenario alone, into the last run's results
        harness.setup()
        from bench import privacy

        last = json.loads(RESULTS.read_text())
        last["privacy_delete"] = privacy.bench_privacy_delete()
        RESULTS.write_text(json.dumps(last, indent=2) + "\n")
        print(json.dumps(last["privacy_delete"], indent=2))
    elif sys.argv[1:] == ["member_lists"]:  # the member list scenario alone, into the last run's results
        from bench import member_lists

        last = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        last["member_list_erasure"] = member_lists.bench_member_list_erasure()
        RESULTS.write_text(json.dumps(last, indent=2) + "\n")
        print(json.dumps(last["member_list_erasure"], indent=2))
    else:
        main()
