"""Stored copies of subjects: finding them in an object, and the object without them.

Which formats live where (docs/architecture.md, "Privacy"): the event archive is gzip JSON Lines, one
record per event; an import's changes are gzip members of JSON back to back; uploads are text files (CSV),
gzip or not; access exports are ZIPs; member lists (snapshots, an import's joined and left lists) are
privacy/member_lists.py's. Matching is structural: a record names a subject only where it holds that
identifier field's value (an archived event's `subjects`, as its dialect read them; a file's identifier
column), never because some other string of it is equal.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from audiences.ports.privacy import Subject

_GZIP_MAGIC = b"\x1f\x8b"
PIECE_BYTES = 1 << 20  # decompressed at a time
_LONGEST_LINE = 1 << 20  # a member row is at most a few KB, an archived event at most 1,000 KiB


class Handling(StrEnum):
    REWRITE = "rewrite"  # the object is kept without the subject's records
    ERASE = "erase"  # the object has done its work: it is deleted whole (every version)


@dataclass(frozen=True)
class Found:
    records: int  # records naming a subject
    without: bytes | None = None  # the object without them (REWRITE), when there were any
    lines: tuple[bytes, ...] = ()  # the records themselves, when asked for (an access export)


Subjects = frozenset[Subject]
# A file's columns that hold identifiers: a header name, and the identifier field its values are of.
Columns = frozenset[tuple[str, str]]


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


def json_lines(
    data: bytes, subjects: Subjects, rewrite: bool, received_by: float | None = None, collect: bool = False
) -> Found:
    """Gzip JSON Lines (the event archive): the records naming a subject (received by `received_by`, when
    given), and the object without them, decompressed and compressed a piece at a time. Only a line holding a
    subject's value as a JSON string is parsed (the cost of a delete is this loop); it names the subject if its
    `subjects` hold the pair."""
    escaped = _as_json_strings(frozenset(subject.value for subject in subjects))
    deflate, out, found = zlib.compressobj(6, zlib.DEFLATED, 31), [], []
    for line in _lines([data]):
        if not escaped.isdisjoint(_JSON_STRING.findall(line)) and _names(line, subjects, received_by):
            found.append(line)
        elif rewrite:
            out.append(deflate.compress(line))
    without = b"".join(out) + deflate.flush() if rewrite and found else None
    return Found(len(found), without, tuple(found) if collect else ())


def _names(line: bytes, subjects: Subjects, received_by: float | None) -> bool:
    try:
        record = json.loads(line)
        named = {Subject(field, value) for field, value in record.get("subjects", ())}
        if subjects.isdisjoint(named):
            return False
        return received_by is None or datetime.fromisoformat(record["received_at"]).timestamp() <= received_by
    except (ValueError, TypeError, KeyError, AttributeError):  # a line broken off: no record of anyone
        return False


def json_members(data: bytes, subjects: Subjects) -> Found:
    """Gzip members of JSON back to back (an import's changes, written by the importer, each of one
    identifier): the values among them that are subjects."""
    text, decoder, position, removed = gzip.decompress(data).decode(), json.JSONDecoder(), 0, 0
    while position < len(text):
        document, position = decoder.raw_decode(text, position)
        field = document.get("identifier")
        removed += sum(1 for value in document.get("values", []) if Subject(field, value) in subjects)
    return Found(removed)


def text_rows(data: Pieces, subjects: Subjects, columns: Columns) -> Found:
    """An uploaded file (CSV, gzip or not, whole or broken off), read a piece at a time: its rows holding a
    subject's value in a column of that subject's field, as its header names the columns."""
    lines, rows = _lines(data), 0
    header = _fields(next(lines, b""))
    named = [(n, field) for n, name in enumerate(header) for column, field in columns if name.strip() == column]
    if not named:
        return Found(0)
    for line in lines:
        fields = _fields(line)
        rows += any(n < len(fields) and Subject(field, fields[n].strip()) in subjects for n, field in named)
    return Found(rows)


def _fields(line: bytes) -> list[str]:
    text = line.decode("utf-8", errors="replace").rstrip("\r\n")
    try:
        return next(csv.reader([text]), [])
    except csv.Error:  # not CSV (a stray carriage return, a NUL): its comma-separated parts
        return text.split(",")


def export_names(data: bytes, subjects: Subjects) -> bool:
    """Whether an access export (a ZIP of one JSON document per request) is of one of the subjects, or holds an
    event naming one."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            document = json.loads(archive.read(name))
            for held in [document, *document.get("others", [])]:
                subject = held.get("subject", {})
                named = {Subject(subject.get("namespace"), subject.get("value"))}
                named |= {Subject(*pair) for event in held.get("events", []) for pair in event.get("subjects", [])}
                if not subjects.isdisjoint(named):
                    return True
    return False


def find(
    key: str, data: bytes, subjects: Subjects, rewrite: bool, received_by: float | None = None, collect: bool = False
) -> tuple[Handling, Found]:
    """The subjects' records in an object of the data bucket (by its kind, from its key and bytes)."""
    if key.endswith("/index.json"):  # byte ranges, no identifiers
        return Handling.ERASE, Found(0)
    if key.startswith("privacy/"):  # an access export, or the records gathered for one: a copy to erase whole
        if key.endswith(".zip"):
            return Handling.ERASE, Found(int(export_names(data, subjects)))
        return Handling.ERASE, json_lines(data, subjects, rewrite=False)
    if key.endswith("/changes.bin") or key.endswith(".json.gz"):
        return Handling.ERASE, json_members(data, subjects)
    if key.startswith("events/"):
        return Handling.REWRITE, json_lines(data, subjects, rewrite, received_by, collect)
    return Handling.ERASE, Found(0)  # nothing else of the data bucket holds identifiers
