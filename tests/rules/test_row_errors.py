"""Row errors of uploaded files name the line, the column and what is wrong, never a cell's value: an error text
is stored on the import record, served by `GET /v3/imports`, the console and Adobe's runs, and no erasure
reaches it. Every bad cell here is an email no answer may repeat."""

from __future__ import annotations

import gzip
import json
import time

from audiences.domain import ImportStatus
from audiences.wiring import stores
from tests.adobe_client import put_source, run
from tests.imports_helpers import HEADER, drain, upload

LEAKED = [f"cell{n}-7e1b@x.com" for n in range(8)]


def answers(api, demo, adobe, audience_ids: list[str]) -> str:
    """Every import record held, and every answer that shows one, as one text."""
    private = demo["DEMO_PRIVATE_KEY"]
    held = [repr(stores().imports.page("demo", None, None, None, 100)[0])]
    held.append(json.dumps(api.call("GET", "/v3/imports", key=private).body))
    held += [json.dumps(api.call("GET", f"/v3/imports/{r.import_id}", key=private).body) for r in _records()]
    held.append(json.dumps(api.call("GET", "/console/api/activity", key=private).body))
    held += [json.dumps(adobe.call("GET", f"/external-audience/{audience}/runs")[1]) for audience in audience_ids]
    return "\n".join(held)


def _records():
    return stores().imports.page("demo", None, None, None, 100)[0]


def test_no_cell_value_of_a_bad_odp_file_or_adobe_run_reaches_a_record_or_an_answer(api, vip, functions, adobe):
    a, b, c, d, e, *_ = LEAKED
    now = int(time.time())
    rows = [
        f"{a},qualify,vip,{now},u1",  # type
        f"passthrough,{b},vip,{now},u2",  # action
        f"passthrough,qualify,{c},{now},u3",  # audience_id
        f"passthrough,qualify,vip,{d},u4",  # ts
        f"passthrough,qualify,vip,{now},u5\x07{e}",  # the identifier: a control character
    ]
    upload(gzip.compress((HEADER + "\n".join(rows) + "\n").encode(), mtime=0))
    drain(functions)
    upload(gzip.compress(f"passthrough,qualify,vip,{now},{LEAKED[5]}\n".encode(), mtime=0))  # its header forgotten
    drain(functions)

    fields = [
        {"name": "email", "type": "string", "identityNs": "Email"},
        {"name": "score", "type": "number"},
        {"name": "since", "type": "date"},
    ]
    audience_ids = []
    for name, text in (
        ("typed", f"email,score,since\nann@x.com,{LEAKED[6]},\nbob@x.com,,{LEAKED[7]}\n"),
        ("headless", f"{LEAKED[6]},1,2025-01-01\n"),
    ):
        spec = {"path": name, "type": "folder"}
        audience_ids.append(
            adobe.create(name=name, customAudienceId=name, fields=fields, sourceSpec=spec)["operationId"]
        )
        put_source(f"{name}.csv", text, folder=name)
        run(adobe, audience_ids[-1], now - 60)
        drain(functions)

    assert {r.status for r in _records()} == {ImportStatus.FAILED}
    shown = answers(api, vip, adobe, audience_ids)
    assert sum(r.error_count for r in _records()) == 7  # the errors are there, each by line and column
    assert "column `type`" in shown and "column `score`" in shown
    assert [value for value in LEAKED if value in shown] == []
