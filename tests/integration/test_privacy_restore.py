"""A restore of the tables to a backup taken before an erasure brings the erased person back; the runbook's
two commands (docs/operations.md, "Restoring a table") erase them again, and keep a suppression made since."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from audiences import admin
from audiences.domain import UserRef
from audiences.wiring import stores
from local.provision import REGION
from tests.conftest import PLAN
from tests.imports_helpers import drain
from tests.integration.helpers import event, segment
from tests.segment_client import Segment

ERASED, SUPPRESSED, KEPT = "ann-7f3e", "carl-5d1a", "bob-90c2"


def states(user: str) -> dict[str, str]:
    return {
        ext: s.value
        for ext, (s, _) in stores().memberships.user_memberships("demo", UserRef("fs_user_id", user)).items()
    }


def regulate(client: Segment, regulation_type: str, user: str) -> str:
    body = {"regulationType": regulation_type, "subjectType": "USER_ID", "subjectIds": [user]}
    status, _, answer = client.call("POST", "/regulations", body)
    assert status == 200, answer
    return answer["data"]["regulateId"]


def send(api, demo, user: str, ts: float, action: str = "qualify") -> None:
    reply = api.call("POST", "/v3/events", [event(action, user, "vip", ts)], key=demo["DEMO_PUBLIC_KEY"])
    assert reply.status == 202, reply.body


def backup(tables: tuple[str, ...]) -> dict[str, str]:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    return {
        logical_id: dynamodb.create_backup(TableName=PLAN.names[logical_id], BackupName=f"{logical_id}-before")[
            "BackupDetails"
        ]["BackupArn"]
        for logical_id in tables
    }


def restore(backups: dict[str, str]) -> None:
    """Each table restored from its backup as a new table, then brought into service in place of the live one
    (its items copied back over the emptied live table)."""
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    for logical_id, arn in backups.items():
        live, copy = dynamodb.Table(PLAN.names[logical_id]), f"{PLAN.names[logical_id]}-restored"
        dynamodb.meta.client.restore_table_from_backup(TargetTableName=copy, BackupArn=arn)
        with live.batch_writer() as batch:
            for item in live.scan(ConsistentRead=True)["Items"]:
                batch.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})
        with live.batch_writer() as batch:
            for item in dynamodb.Table(copy).scan(ConsistentRead=True)["Items"]:
                batch.put_item(Item=item)


@pytest.mark.parametrize(
    "tables", [("TenantsTable", "MembershipsTable"), ("MembershipsTable",)], ids=["with-the-requests", "members-only"]
)
def test_a_restore_to_before_an_erasure_does_not_bring_the_erased_person_back(
    api, demo, functions, tmp_path: Path, capsys, tables
):
    client = Segment(api, demo["DEMO_PRIVATE_KEY"])
    assert api.call("PUT", "/v3/segments/vip_users", segment("vip"), key=demo["DEMO_PRIVATE_KEY"]).status == 200
    for user in (ERASED, SUPPRESSED, KEPT):
        send(api, demo, user, time.time() - 60)
    drain(functions)
    restore_point = datetime.now(UTC)
    backups = backup(tables)
    erasure = regulate(client, "SUPPRESS_WITH_DELETE", ERASED)
    regulate(client, "SUPPRESS_ONLY", SUPPRESSED)
    drain(functions)
    assert states(ERASED) == {} and states(KEPT) == {"vip": "qualified"}

    saved = tmp_path / "erasures.jsonl"
    assert admin.main(["privacy", "save-erasures", "--since", "yesterday", str(saved)]) == 1
    assert admin.main(["privacy", "save-erasures", "--since", restore_point.isoformat(), str(saved)]) == 0
    for value in (ERASED, SUPPRESSED):
        assert value.encode() not in saved.read_bytes()  # sealed and hashed only

    restore(backups)
    assert states(ERASED) == {"vip": "qualified"} == states(KEPT)  # what a restore alone does
    assert client.call("GET", f"/regulations/{erasure}")[0] == (404 if "TenantsTable" in tables else 200)

    assert admin.main(["privacy", "replay-erasures", str(saved)]) == 0
    assert "demo\t2 requests saved\t1 run again" in capsys.readouterr().out
    drain(functions)
    assert states(ERASED) == {} and states(KEPT) == {"vip": "qualified"}
    _, _, answer = client.call("GET", f"/regulations/{erasure}")
    assert answer["data"]["regulation"]["overallStatus"] == "FINISHED"
    send(api, demo, ERASED, time.time() - 30)  # a replay of an event older than the erasure stays out
    send(api, demo, SUPPRESSED, time.time(), "disqualify")  # the suppression made since the backup holds
    assert states(ERASED) == {} and states(SUPPRESSED) == {"vip": "qualified"}

    assert admin.main(["privacy", "replay-erasures", str(saved)]) == 0  # run twice: nothing again
    assert "demo\t2 requests saved\t0 run again" in capsys.readouterr().out
