"""The privacy job's pure parts: stored copies found and rewritten by format, sealed subjects, request ids."""

from __future__ import annotations

import gzip
import json
import random
import secrets

import pytest

from audiences.ports.privacy import Subject
from audiences.privacy import copies
from audiences.privacy.requests import REQUEST_ID, new_request_id
from audiences.privacy.sealing import SealBroken, seal, unseal

ANN = frozenset({Subject("email", "ann@x.com")})
EMAIL_COLUMNS = frozenset({("email", "email")})


def record(*subjects: tuple[str, str], received_at: str = "2026-01-01T00:00:00+00:00", **event) -> bytes:
    """An archive record as ports.archive writes it: the event, and the subjects its dialect read in it."""
    body = {"tenant": "t", "received_at": received_at, "subjects": [list(s) for s in subjects], "event": event}
    return json.dumps(body).encode() + b"\n"


def records(*users: str) -> bytes:
    return b"".join(record(("email", u), identifiers={"email": u}) for u in users)


def test_archive_lines_naming_a_subject_go_and_the_rest_stay_as_they_were():
    data = gzip.compress(records("bob@x.com", "ann@x.com", "carl@x.com"))
    found = copies.json_lines(data, ANN, rewrite=True)
    assert found.records == 1
    assert gzip.decompress(found.without) == records("bob@x.com", "carl@x.com")
    assert copies.json_lines(data, frozenset({Subject("email", "nobody")}), rewrite=True) == copies.Found(0)
    assert copies.json_lines(data, ANN, rewrite=False) == copies.Found(1)  # an access request only counts


def test_an_archived_event_names_only_the_subjects_its_dialect_read_in_it_never_an_equal_string():
    theirs = record(("email", "bob@x.com"), identifiers={"email": "bob@x.com"}, data={"audience_id": "ann@x.com"})
    as_other_field = record(("fs_user_id", "ann@x.com"), identifiers={"fs_user_id": "ann@x.com"})
    as_key = record(("email", "bob@x.com"), identifiers={"email": "bob@x.com"}, data={"ann@x.com": 1})
    hers = record(("vuid", "v1"), ("email", "ann@x.com"), identifiers={"vuid": "v1", "email": "ann@x.com"})
    data = gzip.compress(theirs + as_other_field + as_key + hers)
    found = copies.json_lines(data, ANN, rewrite=True)
    assert found.records == 1 and gzip.decompress(found.without) == theirs + as_other_field + as_key
    enum_word = frozenset({Subject("email", "qualify"), Subject("email", "passthrough"), Subject("email", "t")})
    passthrough = record(("email", "bob@x.com"), type="passthrough", action="qualify")
    assert copies.json_lines(gzip.compress(passthrough), enum_word, rewrite=True).records == 0


def test_an_erasure_takes_the_records_received_by_its_marks_and_leaves_later_ones():
    early = record(("email", "ann@x.com"), received_at="2026-01-01T00:00:00+00:00")
    late = record(("email", "ann@x.com"), received_at="2026-01-01T00:10:00+00:00")
    marks_in_effect = 1767225900.0  # 2026-01-01T00:05:00Z
    found = copies.json_lines(gzip.compress(early + late), ANN, rewrite=True, received_by=marks_in_effect)
    assert found.records == 1 and gzip.decompress(found.without) == late


def test_uploads_are_read_a_piece_at_a_time_whatever_they_hold():
    rows = b"email,tier\nbob@x.com,gold\n ann@x.com ,silver\n"
    two_members = gzip.compress(rows[:20]) + gzip.compress(rows[20:])
    assert copies.text_rows([two_members], ANN, EMAIL_COLUMNS).records == 1
    assert copies.text_rows([rows[:7], rows[7:]], ANN, EMAIL_COLUMNS).records == 1  # plain text, in pieces
    noise = random.Random(1).randbytes(100_000)  # does not compress: cutting 2,000 bytes cuts into the noise
    broken = gzip.compress(rows + noise)[:-2000]  # cut off: searched as far as it decodes
    assert copies.text_rows([broken], ANN, EMAIL_COLUMNS).records == 1
    long_line = gzip.compress(b"email\n" + b"a" * (3 * copies.PIECE_BYTES) + b"\nann@x.com\n")  # cut, never held whole
    assert copies.text_rows([long_line], ANN, EMAIL_COLUMNS).records == 1
    assert copies.text_rows([b"\x1f\x8bnot gzip at all"], ANN, EMAIL_COLUMNS).records == 0


def test_an_upload_names_a_subject_only_in_a_column_of_its_field():
    rows = b"type,action,audience_id,ts,fs_user_id\npassthrough,qualify,ann@x.com,1,bob\n"
    assert copies.text_rows([rows], ANN | {Subject("fs_user_id", "passthrough")}, EMAIL_COLUMNS).records == 0
    odp = frozenset({("fs_user_id", "fs_user_id")})
    assert copies.text_rows([rows], frozenset({Subject("fs_user_id", "bob")}), odp).records == 1
    assert copies.text_rows([rows], frozenset({Subject("email", "bob")}), odp).records == 0
    adobe = b"emailAddr,tier\nann@x.com,gold\n"  # a column the dialect maps to the email field
    assert copies.text_rows([adobe], ANN, frozenset({("emailAddr", "email")})).records == 1


def test_planned_changes_are_erased_whole_and_their_index_holds_nobody():
    def chunk(identifier: str, *values: str) -> bytes:
        return gzip.compress(json.dumps({"identifier": identifier, "values": list(values)}).encode())

    chunks = chunk("email", "bob@x.com") + chunk("email", "ann@x.com")
    assert copies.find("changes/tenant=t/vip/i/changes.bin", chunks, ANN, True) == (
        copies.Handling.ERASE,
        copies.Found(1),
    )
    assert copies.find("changes/tenant=t/vip/i/changes.bin", chunk("fs_user_id", "ann@x.com"), ANN, True)[1] == (
        copies.Found(0)
    )
    assert copies.find("changes/tenant=t/vip/i/index.json", b"[[0, 10]]", ANN, True)[1].records == 0


def test_sealed_subjects_open_only_under_their_key_and_unchanged():
    secret, subjects = secrets.token_bytes(32), [Subject("email", "ann@x.com"), Subject("fs_user_id", "ü-7" * 40)]
    sealed = seal(secret, subjects)
    assert b"ann@x.com" not in sealed and unseal(secret, sealed) == subjects
    assert seal(secret, subjects) != sealed  # a fresh nonce each time
    with pytest.raises(SealBroken):
        unseal(secrets.token_bytes(32), sealed)
    with pytest.raises(SealBroken):
        unseal(secret, sealed[:20] + bytes([sealed[20] ^ 1]) + sealed[21:])


def test_request_ids_are_uuid7_and_sort_by_creation_even_within_a_millisecond():
    ids = [new_request_id(1_800_000_000.0005) for _ in range(5000)]
    assert ids == sorted(ids) and len(set(ids)) == 5000
    assert all(REQUEST_ID.fullmatch(i) for i in ids)
    assert new_request_id(1_800_000_001.0) > ids[-1]


@pytest.mark.parametrize("ascii_only", [False, True])
def test_a_value_needing_escapes_is_found_however_its_writer_escaped_it(ascii_only):
    odd = 'a"b\\c ü 😀'
    body = {"received_at": "2026-01-01T00:00:00+00:00", "subjects": [["email", odd]], "event": {"other": odd + "x"}}
    line = json.dumps(body, ensure_ascii=ascii_only).encode() + b"\n"
    found = copies.json_lines(gzip.compress(line + records("bob@x.com")), frozenset({Subject("email", odd)}), True)
    assert found.records == 1 and gzip.decompress(found.without) == records("bob@x.com")
