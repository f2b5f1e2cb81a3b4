"""Stored copies of subjects: finding them in an object, and the object without them.

Which formats live where (docs/architecture.md, "Privacy"): the event archive is gzip JSON Lines, one
record per event; snapshots and an import's joined and left lists are Parquet member lists; an import's
changes are gzip members of JSON back to back; uploads are text files (CSV), gzip or not. A record names a
subject if any string in it equals one of the subject values: an identifier is a whole value wherever a
dialect puts it, so nothing is parsed by dialect, and an event is one person's, so its whole record goes.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from audiences.member_files import MEMBER

_GZIP_MAGIC = b"\x1f\x8b"
PIECE_BYTES = 1 << 20  # decompressed at a time
_LONGEST_LINE = 1 << 20  # a member row is at most a few KB, an archived event at most 1,000 KiB
_PARQUET_MAGIC = b"PAR1"


class Handling(StrEnum):
    REWRITE = "rewrite"  # the object is kept without the subject's records
    ERASE = "erase"  # the object has done its work: it is deleted whole (every version)


@dataclass(frozen=True)
class Found:
    records: int  # records naming a subject
    without: bytes | None = None  # the object without them (REWRITE), when there were any


Pieces = Iterable[bytes]  # an object's bytes, as read a piece at a time


def _decompressed(pieces: Pieces) -> Iterator[bytes]:
    """The bytes of gzip data a piece at a time, member after member (never held whole: an upload may be a
    bomb); data that is not gzip as it is, and gzip that breaks off as far as it decodes."""
    pieces = iter(pieces)
    first = next(pieces, b"")
    if first[:2] != _GZIP_MAGIC:
        yield first
        yield from pieces
        return
    inflate = zlib.decompressobj(31)
    for pending in itertools.chain([first], pieces):
        while pending:
            try:
                piece = inflate.decompress(pending, PIECE_BYTES)
            except zlib.error:
                return
            if piece:
                yield piece
            pending = inflate.unconsumed_tail
            if inflate.eof:  # the next member, if any, starts a new stream
                pending, inflate = inflate.unused_data, zlib.decompressobj(31)


def _lines(data: Pieces) -> Iterator[bytes]:
    """The lines of (gzip) text, each with its line break; a line longer than _LONGEST_LINE is cut there (no
    record a subject's value is matched in is that long)."""
    held = b""
    for piece in _decompressed(data):
        held += piece
        *lines, held = held.split(b"\n")
        yield from (line + b"\n" for line in lines)
        while len(held) > _LONGEST_LINE:
            yield held[:_LONGEST_LINE]
            held = held[_LONGEST_LINE:]
    if held:
        yield held


_JSON_STRING = re.compile(rb'"((?:[^"\\]|\\.)*)"')


def _as_json_strings(values: frozenset[str]) -> frozenset[bytes]:
    """Each value as a JSON string's inside, as JSON writers escape it (UTF-8 as is, or \\u escapes)."""
    return frozenset(json.dumps(v, ensure_ascii=ascii)[1:-1].encode() for v in values for ascii in (False, True))


def json_lines(data: bytes, values: frozenset[str], rewrite: bool) -> Found:
    """Gzip JSON Lines (the event archive): the lines naming a subject, and the object without them,
    decompressed and compressed a piece at a time. A line names a subject if one of its JSON strings is
    the value: its strings are tokenized, not parsed into objects (the cost of a delete is this loop)."""
    escaped = _as_json_strings(values)
    deflate, out, removed = zlib.compressobj(6, zlib.DEFLATED, 31), [], 0
    for line in _lines([data]):
        if line.strip() and not escaped.isdisjoint(_JSON_STRING.findall(line)):
            removed += 1
        elif rewrite:
            out.append(deflate.compress(line))
    return Found(removed, b"".join(out) + deflate.flush() if rewrite and removed else None)


def member_list(data: bytes, values: frozenset[str], rewrite: bool) -> Found:
    """A Parquet member list: the members that are subjects, and the list without them."""
    import polars as pl  # the engine's layer: the imports and privacy functions carry it

    frame = pl.read_parquet(io.BytesIO(data))
    named = frame[MEMBER].is_in(list(values))
    removed = int(named.sum())
    if not (rewrite and removed):
        return Found(removed)
    out = io.BytesIO()
    frame.filter(~named).write_parquet(out, compression="zstd", statistics=False)
    return Found(removed, out.getvalue())


def json_members(data: bytes, values: frozenset[str]) -> Found:
    """Gzip members of JSON back to back (an import's changes, written by the importer): the values among
    them that are subjects."""
    text, decoder, position, removed = gzip.decompress(data).decode(), json.JSONDecoder(), 0, 0
    while position < len(text):
        document, position = decoder.raw_decode(text, position)
        removed += sum(1 for value in document.get("values", []) if value in values)
    return Found(removed)


def text_rows(data: Pieces, values: frozenset[str]) -> Found:
    """An uploaded file (CSV, gzip or not, whole or broken off), read a piece at a time: its rows holding a
    subject as a whole field."""
    rows = 0
    for line in _lines(data):
        text = line.decode("utf-8", errors="replace")
        try:
            fields = next(csv.reader([text]), [])
        except csv.Error:  # not CSV (a stray carriage return, a NUL): its comma-separated parts
            fields = text.split(",")
        rows += any(field.strip() in values for field in fields)
    return Found(rows)


def find(key: str, data: bytes, values: frozenset[str], rewrite: bool) -> tuple[Handling, Found]:
    """The subjects' records in an object of the data bucket (by its kind, from its key and bytes)."""
    if key.endswith("/index.json"):  # byte ranges, no identifiers
        return Handling.ERASE, Found(0)
    if data[:4] == _PARQUET_MAGIC:
        return Handling.REWRITE, member_list(data, values, rewrite)
    if key.endswith("/changes.bin") or key.endswith(".json.gz"):
        return Handling.ERASE, json_members(data, values)
    if key.startswith("events/"):
        return Handling.REWRITE, json_lines(data, values, rewrite)
    return Handling.ERASE, text_rows([data], values)
