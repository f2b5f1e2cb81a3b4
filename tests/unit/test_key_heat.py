"""Where write units land (local/key_heat.py) and what the AWS model makes of counts (bench/aws_model.py)."""

from __future__ import annotations

import math

import pytest

from bench import aws_model
from local.aws_calls import Call, Invocation
from local.key_heat import Index, KeyHeat

INDEX = Index("QualifiedSince", "qualified_in", "ts", "KEYS_ONLY", ("pk", "sk"))


def item(qualified_in: str | None = None, ts: str = "1", **more) -> dict:
    found = {"pk": {"S": "t#fs_user_id#u"}, "sk": {"S": "a"}, "ts": {"N": ts}, **more}
    return found | ({"qualified_in": {"S": qualified_in}} if qualified_in else {})


@pytest.mark.parametrize(
    ("before", "after", "written"),
    [
        (None, item("t#a#3"), ["t#a#3"]),  # an entry appears: a put
        (item("t#a#3"), item(None), ["t#a#3"]),  # it leaves the (sparse) index: a delete
        (item("t#a#3"), None, ["t#a#3"]),  # the item is deleted
        (item("t#a#3", ts="1"), item("t#a#3", ts="2"), ["t#a#3", "t#a#3"]),  # its key changes: delete and put
        (item("t#a#3"), item("t#a#5"), ["t#a#3", "t#a#5"]),
        (item("t#a#3"), item("t#a#3", state={"S": "q"}), []),  # keys only: an attribute it does not hold
        (item(None), item(None, state={"S": "d"}), []),  # never in the index
    ],
)
def test_an_index_is_written_where_its_entries_appear_change_or_leave(before, after, written):
    assert INDEX.writes(before, after) == written


def test_a_projected_attribute_changing_writes_its_entry_once():
    everything = Index("All", "qualified_in", "ts", "ALL", ("pk", "sk"))
    assert everything.writes(item("t#a#3"), item("t#a#3", state={"S": "q"})) == ["t#a#3"]


def test_units_follow_item_size_are_doubled_in_a_transaction_and_a_failed_write_costs_one():
    heat = KeyHeat()
    heat.record("Memberships", "pk", [INDEX], None, item("t#a#3"), transactional=True)
    big = item("t#a#3", blob={"S": "x" * 3000})
    heat.record("Memberships", "pk", [INDEX], item("t#a#3"), big, transactional=False)
    heat.record_failed("Memberships", "t#fs_user_id#u")
    by_table = heat.by_table()
    assert by_table["Memberships"].write_units == 2 + 4 + 1  # the blob makes the item just over 3 KB: 4 units
    assert by_table["Memberships/QualifiedSince"].write_units == 1  # the blob is not projected
    overall = heat.overall()
    assert overall.hottest_key == "Memberships//t#fs_user_id#u" and overall.keys == 2


def test_an_invocation_takes_its_own_calls_in_turn_and_its_workers_calls_as_the_busiest_worker():
    calls = [
        Call("dynamodb.GetItem", "main"),
        *(Call("dynamodb.TransactWriteItems", f"apply_{n % 3}") for n in range(6)),  # 3 workers, 2 each
        Call("s3.PutObject", "main", sent_bytes=9_000_000),
    ]
    invocation = Invocation("ApplyFunction", "main", calls)
    transaction, put = aws_model.latency("dynamodb.TransactWriteItems"), aws_model.latency("s3.PutObject", 9_000_000)
    assert aws_model.chain_seconds(invocation) == pytest.approx(
        aws_model.latency("dynamodb.GetItem") + 2 * transaction + put
    )
    assert aws_model.sequential_calls(invocation) == 4
    assert put == pytest.approx(0.15 + 0.1)


def test_a_new_table_ramps_up_by_doubling_and_a_warm_one_runs_at_its_ceiling():
    warm = aws_model.seconds_to_write(4e8, 40_000)
    assert warm == pytest.approx(10_000)
    ramp = aws_model.seconds_to_write(4e8, 40_000, start=4_000)
    doublings = math.log2(10) * aws_model.DOUBLING_SECONDS
    assert doublings < ramp < warm + doublings
    early = aws_model.seconds_to_write(4_000 * 60, 40_000, start=4_000)  # a minute's worth at the start
    assert 50 < early < 60
