"""Each dialect marks the audiences it creates with its name: the console shows where one came from."""

from __future__ import annotations

import json

from audiences.adobe import audiences as adobe
from audiences.odp.segments import parse_segment
from audiences.segment import audiences as segment


def test_each_dialect_names_itself_as_the_origin_of_what_it_creates():
    odp = parse_segment("vip", json.dumps({"definition": {"external": {"external_audience_id": "vip"}}}))
    public_api = segment.parse_create(json.dumps({"name": "VIP"}))
    body = {
        "name": "Loyal",
        "fields": [{"name": "email", "type": "string", "identityNs": "Email"}],
        "sourceSpec": {"params": {"path": "loyal.csv", "type": "file"}},
        "originName": "CUSTOM_UPLOAD",
    }
    experience_platform, _ = adobe.parse_create(json.dumps(body), "prod", ["email"])

    assert (odp.origin, public_api.origin, experience_platform.origin) == ("odp", "segment", "adobe")
