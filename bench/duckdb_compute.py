"""The import compute path on DuckDB, for `make bench`'s engine comparison (not used by the service).

    python -m bench.duckdb_compute <previous snapshot: .txt.gz or .parquet> <audience file .csv.gz> [now, epoch s]

Equal validation: DuckDB filters with the predicate of the common case in
`audiences.odp.audience_file.AudienceFile.members` (type, action, audience id, identifier length
and control characters, ts a finite number of seconds, not milliseconds, not too far ahead);
every row it does not pass is judged again by our own `row_problem`, so errors carry our
messages and line numbers, and a row only DuckDB doubted is still accepted. Then: distinct
members, anti-joins with the snapshot both ways, and the next snapshot written sorted in the
previous one's format: today's gzip text, or Parquet (zstd), which DuckDB reads and writes far
faster. Memory is capped and spills to a scratch directory. Prints one JSON line like
bench.compute.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from audiences.domain import MAX_IDENTIFIER_BYTES, Audience, Confidence, Tenant
from audiences.member_files import FileContext
from audiences.odp.audience_file import AudienceFile

MEMORY_LIMIT = "512MB"
FIRST_ERRORS = 20


def main(snapshot_file: str, new_file: str, at: str = "") -> None:
    started = time.perf_counter()
    now, skew = float(at) if at else time.time(), 300  # `at`: the "now" of ts checks, to compare runs
    context = FileContext(
        Tenant.of("bench", fs_user_id=Confidence.HIGH), Audience("bench_audience", "bench"), now, skew
    )
    judge = AudienceFile(None, 0, context, identifier="fs_user_id")
    with tempfile.TemporaryDirectory() as scratch:
        db = duckdb.connect()  # in memory, spilling to temp_directory past the limit
        db.execute(f"SET memory_limit = '{MEMORY_LIMIT}'; SET temp_directory = '{scratch}'")
        db.execute(
            "CREATE TABLE rows AS SELECT * FROM read_csv(?, header = true, all_varchar = true, "
            "columns = {'type': 'VARCHAR', 'action': 'VARCHAR', 'audience_id': 'VARCHAR', 'ts': 'VARCHAR', "
            "'fs_user_id': 'VARCHAR'})",
            [new_file],
        )
        good = (
            "type = 'passthrough' AND action = 'qualify' AND audience_id IN ($key, $ext) AND fs_user_id <> '' "
            "AND strlen(fs_user_id) <= $max_bytes AND NOT regexp_matches(fs_user_id, '[\\x00-\\x1f\\x7f-\\x9f]') "
            "AND isfinite(TRY_CAST(ts AS DOUBLE)) AND TRY_CAST(ts AS DOUBLE) >= 0 "
            "AND TRY_CAST(ts AS DOUBLE) < 1e11 AND TRY_CAST(ts AS DOUBLE) <= $latest"
        )
        values = {"key": "bench_audience", "ext": "bench", "max_bytes": MAX_IDENTIFIER_BYTES, "latest": now + skew}
        doubted = db.execute(
            f"SELECT rowid + 2, type, action, audience_id, ts, fs_user_id FROM rows "
            f"WHERE NOT coalesce({good}, false) ORDER BY rowid",
            values,
        ).fetchall()
        errors, accepted = [], []
        for line, kind, action, audience_id, ts, value in doubted:
            if problem := judge.row_problem(kind or "", action or "", audience_id or "", ts or "", value or ""):
                errors.append((line, problem))
            else:
                accepted.append(value)
        db.execute("CREATE TABLE current AS SELECT DISTINCT fs_user_id AS member FROM rows WHERE " + good, values)
        if accepted:
            db.executemany(
                "INSERT INTO current SELECT ? WHERE ? NOT IN (SELECT member FROM current)", [[v, v] for v in accepted]
            )
        parquet = snapshot_file.endswith(".parquet")
        if parquet:
            db.execute("CREATE TABLE previous AS SELECT member FROM read_parquet(?)", [snapshot_file])
        else:
            db.execute(
                "CREATE TABLE previous AS SELECT column0 AS member FROM read_csv(?, header = false, "
                "all_varchar = true, delim = '\\t', quote = '', escape = '')",
                [snapshot_file],
            )
        joined = db.execute("SELECT member FROM current ANTI JOIN previous USING (member)").fetchall()
        left = db.execute("SELECT member FROM previous ANTI JOIN current USING (member)").fetchall()
        rows = db.execute("SELECT count(*) FROM rows").fetchone()[0]
        following = Path(scratch) / ("next.parquet" if parquet else "next.txt.gz")
        options = "FORMAT parquet, COMPRESSION zstd" if parquet else "HEADER false, QUOTE '', COMPRESSION gzip"
        db.execute(f"COPY (SELECT member FROM current ORDER BY member) TO '{following}' ({options})")
        db.close()
    print(
        json.dumps(
            {
                "rows": rows,
                "joined": len(joined),
                "left": len(left),
                "errors": errors[:FIRST_ERRORS],
                "error_count": len(errors),
                "seconds": time.perf_counter() - started,
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
