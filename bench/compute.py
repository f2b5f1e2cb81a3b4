"""The import compute path alone, in its own process so its peak RSS is its own.

    python -m bench.compute odp <previous snapshot .parquet or .txt.gz> <audience file .csv.gz>
    python -m bench.compute adobe <previous snapshot .parquet or .txt.gz> <source file>…

Runs what audiences.importer runs before planning the apply: stream and validate the file (ODP's)
or the files (an Adobe run's, read as one list), collect the members (spilling past the limit),
diff them with the previous snapshot and write the next one and the changes. Prints one JSON
line; bench.peak measures its memory.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Iterable
from functools import partial
from pathlib import Path

import polars as pl

from audiences.adobe.audiences import Definition
from audiences.adobe.source_file import SourceFile
from audiences.compute import DiffCounts, MemberSet, difference, read_snapshot
from audiences.domain import Audience, Confidence, Tenant
from audiences.member_files import FileContext, MemberFiles
from audiences.odp.audience_file import AudienceFile

ADOBE_FIELDS = [{"name": "email", "type": "string", "identityNs": "email"}, {"name": "score", "type": "number"}]


def _open(path: str, reader, context: FileContext):
    return reader(open(path, "rb"), Path(path).stat().st_size, context)


def diffed(members, previous_blocks: Iterable[pl.Series], scratch: Path) -> DiffCounts:
    """The members (a MemberFile or MemberFiles) read and diffed with the previous list, as the importer does."""
    current = MemberSet(scratch / "current")
    current.add_all(members.blocks())
    if members.errors.count:
        raise SystemExit(f"invalid bench file: {members.errors.first}")
    previous = MemberSet(scratch / "previous", distinct=True)
    previous.add_all(previous_blocks)
    return difference(previous, current, scratch).counts


def main(kind: str, snapshot_file: str, *files: str) -> None:
    started = time.perf_counter()
    tenant = Tenant.of("bench", fs_user_id=Confidence.HIGH, email=Confidence.HIGH)
    if kind == "odp":
        context = FileContext(tenant, Audience("bench_audience", "bench"), time.time(), 300)
        [only] = files
        members = _open(only, AudienceFile, context)
    else:
        definition = Definition(
            "prod", ADOBE_FIELDS, {"path": "d", "type": "folder"}, False, [], [], "people", "", "", None
        )
        audience = Audience("bench_audience", "bench", dialect_attributes=definition.attributes())
        context = FileContext(tenant, audience, time.time(), 300)
        members = MemberFiles([(Path(path).name, partial(_open, path, SourceFile, context)) for path in files])
    with tempfile.TemporaryDirectory() as scratch:
        counts = diffed(members, read_snapshot(Path(snapshot_file)), Path(scratch))
    print(
        json.dumps(
            {
                "rows": members.rows,
                "joined": counts.joined,
                "left": counts.left,
                "unchanged": counts.unchanged,
                "seconds": time.perf_counter() - started,
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
