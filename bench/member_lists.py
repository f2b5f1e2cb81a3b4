"""Erasing 1,000 subjects from a 10^7-member audience's member list, within the privacy function's memory.

    python -m bench.member_lists     (`make bench` runs it in a process of its own; prints one JSON line)

moto runs as a server on a loopback port with the template's resources and the demo tenant, as `make run`
has them. The tenant's one stored copy is an audience's snapshot of 10^6, then 10^7 members, written as the
importer writes one (Parquet, zstd, its identifier field in its metadata; the values random 128-bit ids of
41 characters, which hardly compress), the 1,000 subjects spread over it. Ours: a purge of the 1,000 (the
stored copies' part of a delete; the memberships' part is the privacy scenario's) run by PrivacyFunction's
handler on the job's one message, in an interpreter of its own whose peak RSS is the function's
(bench.peak): the list streamed to /tmp by one GET, looked through up to a subject, the list without the
subjects written beside it and PUT back conditioned on the ETag read; each part timed. Baselines, as a
skeptic would write them: the same file on local disk filtered to a file, no S3, by one lazy Polars query on
the streaming engine and by one DuckDB statement, each writing zstd at level 1 as ours does; the faster is
the baseline. Also measured: the in-memory rewrite this replaced (the object's bytes, a frame, the frame
without the subjects, the new bytes), for its peak. `model_1e8` makes a 10^8-member list of the 10^7 run.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from bench.cold_start import serve_moto
from bench.harness import measured
from local import lambdas, provision, template

SUBJECTS = 1_000
SIZES = (1_000_000, 10_000_000)
FIELD = "fs_user_id"
AUDIENCE = "bench_audience"
# PrivacyFunction's handler on one SQS record, as Lambda's event source mapping hands it the job's message.
WORKER = """
import json, sys, time
sys.path.insert(0, {code!r})
started = time.perf_counter()
import worker
from audiences.privacy import jobs, member_lists
from audiences.stores import objects

phases = {{"init": time.perf_counter() - started, "download": 0.0, "look_and_rewrite": 0.0, "upload": 0.0,
          "versions_step": 0.0}}

def timed(phase, work):
    def timing(*args, **kwargs):
        begun = time.perf_counter()
        try:
            return work(*args, **kwargs)
        finally:
            phases[phase] += time.perf_counter() - begun
    return timing

objects.download_object = timed("download", objects.download_object)
objects.replace_object_with_file = timed("upload", objects.replace_object_with_file)
member_lists.without = timed("look_and_rewrite", member_lists.without)
jobs._STEPS["versions"] = timed("versions_step", jobs._STEPS["versions"])

class Context:
    function_name, function_version, memory_limit_in_mb = "PrivacyFunction", "$LATEST", 3008
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:PrivacyFunction"
    aws_request_id, log_group_name, log_stream_name = "bench", "/aws/lambda/bench", "bench"
    def get_remaining_time_in_millis(self):
        return int((900 - (time.perf_counter() - started)) * 1000)

body = json.dumps({{"tenant": "demo", "request": sys.argv[1]}})
record = {{"messageId": "1", "receiptHandle": "1", "body": body, "attributes": {{}}, "messageAttributes": {{}},
          "md5OfBody": "", "eventSource": "aws:sqs", "awsRegion": "us-east-1",
          "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:PrivacyQueue"}}
answer = worker.lambda_handler({{"Records": [record]}}, Context())
seconds = time.perf_counter() - started
print(json.dumps({{"seconds": seconds, "phases": phases, "failures": answer["batchItemFailures"]}}))
"""
POLARS = """
import sys, polars as pl
values = pl.read_parquet(sys.argv[2])["member"].to_list()
pl.scan_parquet(sys.argv[1]).filter(~pl.col("member").is_in(values)).sink_parquet(
    sys.argv[3], compression="zstd", compression_level=1, statistics=False
)
"""
DUCKDB = """
import sys, duckdb
duckdb.sql(
    f"COPY (SELECT * FROM read_parquet('{sys.argv[1]}') WHERE member NOT IN "
    f"(SELECT member FROM read_parquet('{sys.argv[2]}'))) TO '{sys.argv[3]}' "
    "(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)"
)
"""
IN_MEMORY = """
import io, sys, polars as pl
values = pl.read_parquet(sys.argv[2])["member"].to_list()
data = open(sys.argv[1], "rb").read()  # what read_object handed it: the object's bytes
frame = pl.read_parquet(io.BytesIO(data))
named = frame["member"].is_in(values)
out = io.BytesIO()
frame.filter(~named).write_parquet(out, compression="zstd", statistics=False)
open(sys.argv[3], "wb").write(out.getvalue())
"""


def _ids(k: pl.Expr) -> pl.Expr:
    """A random-looking 128-bit id of 41 characters for each number: two 64-bit hashes, in decimal."""
    halves = [k.hash(seed).cast(pl.String).str.zfill(20) for seed in (1, 2)]
    return pl.format("{}-{}", *halves).alias("member")


def _write_list(path: Path, members: int) -> list[str]:
    """The audience's list as the importer writes one (members in no order); the subjects, spread over it."""
    from audiences.member_files import IDENTIFIER

    pl.LazyFrame().select(_ids(pl.int_range(members, dtype=pl.UInt64))).sink_parquet(
        path, compression="zstd", statistics=False, metadata={IDENTIFIER: FIELD}
    )
    step = members // SUBJECTS  # one in each stretch of the list, none at its very start
    return pl.select(_ids(pl.int_range(step // 2, members, step, dtype=pl.UInt64)))["member"].to_list()


def _arm(code: str, *args: str) -> dict:
    out, seconds, peak = measured([sys.executable, "-c", code, *args])
    return {"seconds": seconds, "peak_rss_mb": peak, "out": out}


def _one_size(members: int, scratch: Path, privacy_code: str) -> dict:
    from audiences.ports.objects import Bucket
    from audiences.ports.privacy import Kind, Status, Subject
    from audiences.privacy import requests
    from audiences.settings import get_settings
    from audiences.stores import clients
    from audiences.wiring import stores

    held, values, local_out = scratch / "list.parquet", scratch / "values.parquet", scratch / "filtered.parquet"
    subjects = _write_list(held, members)
    pl.DataFrame({"member": subjects}).write_parquet(values)
    key = f"imports/tenant=demo/snapshots/{AUDIENCE}/{members}.parquet"
    clients.s3().upload_file(str(held), get_settings().data_bucket, key)
    tenant = stores().tenants.get_tenant("demo")
    submitted = requests.submit(
        tenant,
        Kind.PURGE,
        [Subject(FIELD, value) for value in subjects],
        origin="operator",
        created_by="bench",
        keep_days=90,
    )
    ours = _arm(WORKER.format(code=privacy_code), submitted.request.request_id)
    answer = json.loads(ours.pop("out").splitlines()[-1])
    done = stores().privacy.get_request("demo", submitted.request.request_id)
    assert done.status is Status.DONE and not answer["failures"], (done, answer)
    assert (done.results["import_files"], done.results["objects_rewritten"]) == (1, 1), done.results
    rewritten = scratch / "rewritten.parquet"
    stores().objects.download_object(Bucket.DATA, key, rewritten)
    kept = pl.scan_parquet(rewritten)
    assert kept.select(pl.len()).collect().item() == members - SUBJECTS
    assert kept.filter(pl.col("member").is_in(subjects)).select(pl.len()).collect().item() == 0
    baselines = {
        name: _arm(code, str(held), str(values), str(local_out))
        for name, code in (("polars", POLARS), ("duckdb", DUCKDB))
    }
    for arm in baselines.values():
        arm.pop("out")
    assert pl.scan_parquet(local_out).select(pl.len()).collect().item() == members - SUBJECTS
    in_memory = _arm(IN_MEMORY, str(held), str(values), str(local_out))
    in_memory.pop("out")
    base_name = min(baselines, key=lambda name: baselines[name]["seconds"])
    stores().objects.erase_object(Bucket.DATA, key)
    return {
        "members": members,
        "list_bytes": held.stat().st_size,
        "rewritten_bytes": rewritten.stat().st_size,
        "tmp_bytes": held.stat().st_size + rewritten.stat().st_size,  # the list and its rewrite, side by side
        "ours": ours | {"handler_seconds": answer["seconds"], "phases": answer["phases"]},
        "baselines": baselines,
        "baseline": base_name,
        "ratio": ours["seconds"] / baselines[base_name]["seconds"],
        "in_memory_rewrite": in_memory,
        "results": done.results,
    }


def model_1e8(large: dict) -> dict:
    """A 10^8-member list on AWS, from the 10^7 run: ten times its bytes, the engine's work ten times what it
    took here (Lambda's 3,008 MB buy about 1.7 vCPUs of arm64, this machine's 2 shared cores are no faster),
    S3 at one connection's rate (bench/aws_model.py), the memory as measured (it does not grow)."""
    from audiences.privacy import member_lists
    from bench import aws_model

    scale = 10**8 // large["members"]
    list_bytes, rewritten = large["list_bytes"] * scale, large["rewritten_bytes"] * scale
    phases = large["ours"]["phases"]
    seconds = {
        "init": phases["init"],
        "get": list_bytes / aws_model.S3_BYTES_PER_SECOND,
        "look_and_rewrite": phases["look_and_rewrite"] * scale,
        "put": rewritten / aws_model.S3_BYTES_PER_SECOND,
    }
    key = f"imports/tenant=demo/snapshots/{AUDIENCE}/x.parquet"
    return {
        "members": 10**8,
        "list_bytes": list_bytes,
        "tmp_bytes": list_bytes + rewritten,
        "tmp_share_of_10_gib": (list_bytes + rewritten) / 10 / 1024**3,
        "one_put": rewritten <= 5 * 1024**3,
        "peak_rss_mb": large["ours"]["peak_rss_mb"],
        "seconds": seconds | {"total": sum(seconds.values())},
        "share_of_timeout": sum(seconds.values()) / 900,
        "time_the_job_keeps_for_it": member_lists.seconds_needed(key, list_bytes),
    }


def main() -> dict:
    from local.stack import configure_process

    spec = template.load()
    functions, plan = template.functions(spec), provision.plan(spec)
    endpoint = serve_moto(plan)
    configure_process(plan, functions, endpoint)
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # the handler's lines, not the answer, would fill stdout
    provision.provision(plan)

    from local.seed import seed_demo

    seed_demo()
    [privacy] = [function for function in functions if function.logical_id == "PrivacyFunction"]
    sizes = {}
    for members in SIZES:
        with tempfile.TemporaryDirectory() as scratch:
            sizes[str(members)] = _one_size(members, Path(scratch), str(privacy.code_dir))
    large, small = sizes[str(SIZES[-1])], sizes[str(SIZES[0])]
    return {
        "subjects": SUBJECTS,
        "sizes": sizes,
        "ours_seconds": large["ours"]["seconds"],
        "baseline_seconds": large["baselines"][large["baseline"]]["seconds"],
        "ratio": large["ratio"],
        "peak_rss_mb": large["ours"]["peak_rss_mb"],
        "peak_rss_mb_at_1e6": small["ours"]["peak_rss_mb"],
        "in_memory_peak_rss_mb": large["in_memory_rewrite"]["peak_rss_mb"],
        "model_1e8": model_1e8(large),
        "target": "peak RSS <= 512 MB and flat from 10^6 to 10^7 members; ratio <= 3.0 (ours moves it through S3 too)",
    }


def bench_member_list_erasure() -> dict:
    """`main` in a process of its own: its moto server and environment touch nothing of the bench's."""
    import subprocess

    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(lambdas.LAYER_DIR), str(template.ROOT)])}
    run = subprocess.run(
        [sys.executable, "-m", "bench.member_lists"], env=env, check=True, capture_output=True, text=True
    )
    return json.loads(run.stdout.splitlines()[-1])


if __name__ == "__main__":
    started = time.perf_counter()
    results = main()
    print(json.dumps(results | {"total_seconds": time.perf_counter() - started}))
