"""The import and run compute paths, in processes of their own, against coreutils and DuckDB."""

from __future__ import annotations

import gzip
import json
import random
import sys
import time
from pathlib import Path

from bench.harness import T, measured

# The row checks ours makes, in awk (byte semantics), printing each valid row's identifier value: an ODP
# audience file's five fields, and an Adobe run file's typed score and email.
ODP_ROWS = (
    'LC_ALL=C awk -F, \'NR > 1 && NF == 5 && $1 == "passthrough" && ($2 == "qualify" || $2 == "disqualify")'
    ' && $3 != "" && $4 ~ /^[0-9]+([.][0-9]+)?$/ && length($5) > 0 && length($5) <= 1024'
    " && $5 !~ /[[:cntrl:]]/ { print $5 }'"
)
RUN_ROWS = (
    "LC_ALL=C awk -F, 'NF == 2 && $1 ~ /^-?[0-9]+([.][0-9]+)?$/ && length($2) > 0 && length($2) <= 1024"
    " && $2 !~ /[[:cntrl:]]/ { print $2 }'"
)


def fair_coreutils(values: str, snapshot_file: Path, scratch: Path) -> str:
    """What our compute path does, in coreutils: sort the new values (in bytes, with half the memory and
    both cores, as ours may), diff them with the snapshot (already sorted, so not sorted again) and write the
    next snapshot with `gzip -1`, as ours does; the gzip runs beside the diff. Prints the number of changes."""
    current, following = scratch / "current.txt", scratch / "next-coreutils.txt.gz"
    return (
        f"{values} | LC_ALL=C sort -u -S 50% --parallel=2 > {current} && {{ gzip -1 -c {current} > {following} & "
        f"LC_ALL=C comm -3 {current} <(zcat {snapshot_file}) | wc -l; wait; }}"
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
    """Our compute path, one DuckDB statement, one lazy Polars query and coreutils, on the same files."""
    new_file, snapshot_file, parquet_file = compute_files(scratch, members_total, seed)
    arms = {  # the snapshots are Parquet, as ours are; coreutils' is the same members as sorted text
        "ours": [sys.executable, "-m", "bench.compute", "odp", str(parquet_file), str(new_file)],
        "duckdb": [sys.executable, "-m", "bench.duckdb_compute", str(parquet_file), str(new_file)],
        "polars_lazy": [sys.executable, "-m", "bench.polars_compute", str(parquet_file), str(new_file)],
    }
    results = {}
    for name, command in arms.items():
        out, wall, peak = measured(command)
        answer = json.loads(out)
        assert not answer.get("also_accepted"), answer  # an engine's predicate narrower than ours: widen it
        results[name] = {"seconds": wall, "peak_rss_mb": peak, "changes": answer["joined"] + answer["left"]}
    shell = fair_coreutils(f"zcat {new_file} | {ODP_ROWS}", snapshot_file, scratch)
    out, wall, peak = measured(["bash", "-c", shell])
    results["coreutils"] = {"seconds": wall, "peak_rss_mb": peak, "changes": int(out)}
    assert len({arm["changes"] for arm in results.values()}) == 1, results
    for arm in results.values():
        arm["ratio_to_coreutils"] = arm["seconds"] / results["coreutils"]["seconds"]
    return {"rows": members_total, **results}


def engine_errors_match(scratch: Path) -> dict[str, bool]:
    """Each engine's errors equal ours (their messages, in any order: the engines read in parallel) on a
    file with bad rows of every kind, and it accepts what ours accepts."""
    import polars as pl

    from audiences.domain import Audience, Confidence, Tenant
    from audiences.member_files import MEMBER, FileContext
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
    path, snapshot = scratch / "bad.csv.gz", scratch / "empty.parquet"
    path.write_bytes(gzip.compress(("type,action,audience_id,ts,fs_user_id\n" + "\n".join(rows) + "\n").encode()))
    pl.DataFrame({MEMBER: []}, schema={MEMBER: pl.String}).write_parquet(snapshot)
    now = time.time()
    context = FileContext(Tenant.of("bench", fs_user_id=Confidence.HIGH), Audience("bench_audience", "bench"), now, 300)
    ours = AudienceFile(path.open("rb"), path.stat().st_size, context)
    accepted = list(ours.members())
    matches = {}
    for engine in ("duckdb", "polars"):
        command = [sys.executable, "-m", f"bench.{engine}_compute", str(snapshot), str(path), repr(now)]
        answer = json.loads(measured(command)[0])
        same_errors = sorted(message for _, message in ours.errors.first) == sorted(answer["errors"])
        matches[engine] = same_errors and answer["joined"] + answer["also_accepted"] == len(accepted)
    return matches


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
        "engine_errors_equal_ours": engine_errors_match(scratch),
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
    shell = fair_coreutils(f"cat {each} | {RUN_ROWS}", snapshot_file, scratch)
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
        "target": "ratio <= 1.5 and peak RSS <= 256 MB",
    }
