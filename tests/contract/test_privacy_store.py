"""The privacy store's contract (audiences.ports.privacy), on DynamoDB and in memory."""

from __future__ import annotations

import pytest

from audiences.errors import Conflict
from audiences.ports.privacy import FOREVER, Kind, Mark, PrivacyRequest, Status


def request(request_id: str, **fields) -> PrivacyRequest:
    defaults = dict(kind=Kind.DELETE, origin="segment", sealed_subjects=b"\x00sealed", subject_count=1)
    return PrivacyRequest(request_id, **(defaults | {"created_at": 1.0, "created_by": "k"} | fields))


def test_a_tenants_secret_is_made_once_by_the_store_and_read_alone(stores):
    assert stores.privacy.secret("t") is None and stores.privacy.screening("t").secret is None
    first = stores.privacy.create_secret("t", 1.0)
    assert len(first) == 32  # 256 random bits: the HMAC and sealing key
    assert stores.privacy.create_secret("t", 2.0) == first  # a concurrent maker gets the first one's
    assert stores.privacy.secret("t") == first and stores.privacy.screening("t").secret == first
    assert stores.privacy.secret("u") is None and stores.privacy.create_secret("u", 3.0) != first


def test_marks_raise_an_erasure_only_and_a_lifted_suppression_without_one_goes(stores):
    secret = stores.privacy.create_secret("t", 1.0)
    stores.privacy.mark("t", ["a", "b"], suppressed_until=FOREVER)
    stores.privacy.mark("t", ["a"], erased_at=20.0)
    stores.privacy.mark("t", ["a"], erased_at=10.0)  # an older erasure does not lower it
    assert stores.privacy.screening("t").marks == {"a": Mark(FOREVER, 20.0), "b": Mark(FOREVER, None)}
    stores.privacy.mark("t", ["a", "b"], suppressed_until=0)
    screening = stores.privacy.screening("t")
    assert screening.secret == secret and screening.marks == {"a": Mark(0.0, 20.0)}
    assert not screening.marks["a"].suppressed(now=5.0)


def test_requests_page_by_id_either_way_and_change_only_from_the_status_expected(stores):
    for n in range(5):
        stores.privacy.put_request("t", request(f"id{n}", created_at=float(n)))
    with pytest.raises(Conflict):
        stores.privacy.put_request("t", request("id1"))
    first, more = stores.privacy.requests("t", None, 2)
    assert [r.request_id for r in first] == ["id0", "id1"] and more
    last, more = stores.privacy.requests("t", "id2", 2)
    assert [r.request_id for r in last] == ["id3", "id4"] and not more
    newest, _ = stores.privacy.requests("t", None, 2, newest_first=True)
    assert [r.request_id for r in newest] == ["id4", "id3"]
    assert stores.privacy.count_requests("t") == 5 and stores.privacy.count_requests("other") == 0
    started = stores.privacy.update_request("t", "id0", {Status.QUEUED}, status=Status.RUNNING, results={"n": 1})
    assert (started.status, started.results, started.sealed_subjects) == (Status.RUNNING, {"n": 1}, b"\x00sealed")
    assert stores.privacy.update_request("t", "id0", {Status.QUEUED}, status=Status.CANCELLED) is None
    assert stores.privacy.update_request("t", "missing", {Status.QUEUED}, status=Status.RUNNING) is None
    assert stores.privacy.get_request("t", "id0").status is Status.RUNNING
    assert stores.privacy.get_request("other", "id0") is None
