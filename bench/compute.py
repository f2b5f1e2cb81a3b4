"""The import compute path alone, in its own process so its peak RSS is its own.

    python -m bench.compute <new.csv.gz> <previous snapshot .txt.gz>

Runs what audiences.importer runs before applying: stream and validate the file, sort it into
runs, merge-diff with the previous snapshot while writing the next one. Prints one JSON line;
bench.peak measures its memory.
"""

from __future__ import annotations

import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

from audiences.diff import DiffCounts, SortedRuns, diff, written
from audiences.domain import Audience, Confidence, Tenant
from audiences.member_files import FileContext
from audiences.odp.audience_file import AudienceFile


def main(new_file: str, snapshot_file: str) -> None:
    started = time.perf_counter()
    tenant = Tenant.of("bench", fs_user_id=Confidence.HIGH)
    counts = DiffCounts()
    with open(new_file, "rb") as body, tempfile.TemporaryDirectory() as scratch:
        audience = Audience("bench_audience", "bench")
        audience_file = AudienceFile(
            body, Path(new_file).stat().st_size, FileContext(tenant, audience, time.time(), 300)
        )
        runs = SortedRuns(Path(scratch))
        runs.add_all(audience_file.members())
        if audience_file.errors.count:
            raise SystemExit(f"invalid bench file: {audience_file.errors.first}")
        with (
            gzip.open(snapshot_file, "rt", encoding="utf-8") as previous,
            gzip.open(Path(scratch) / "next.txt.gz", "wt", encoding="utf-8", compresslevel=1) as snapshot,
        ):
            changes = diff((line[:-1] for line in previous), written(runs.merged(), snapshot), counts)
            for _ in changes:
                pass
    print(
        json.dumps(
            {
                "rows": audience_file.rows,
                "joined": counts.joined,
                "left": counts.left,
                "unchanged": counts.unchanged,
                "seconds": time.perf_counter() - started,
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
