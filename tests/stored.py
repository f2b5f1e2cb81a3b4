"""Reading what a stack stores as a person would search it: gzip and Parquet decoded, broken gzip as far as
it goes (an upload may be anything)."""

from __future__ import annotations

import gzip
import io
import zlib

import polars as pl


def decoded(data: bytes) -> bytes:
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error):
            try:
                data = zlib.decompressobj(31).decompress(data)
            except zlib.error:
                return data
    if data[:4] == b"PAR1":
        try:
            return repr(pl.read_parquet(io.BytesIO(data)).to_dicts()).encode()
        except Exception:  # a file that only starts like Parquet: searched as it is
            return data
    return data
