"""Docs that quote the code must quote it exactly."""

from __future__ import annotations

from audiences.odp.graphql import sdl
from local.template import ROOT


def test_api_doc_shows_the_schema_the_code_builds():
    api_doc = (ROOT / "docs" / "api.md").read_text()
    assert f"```graphql\n{sdl(('email', 'fs_user_id', 'vuid'))}```" in api_doc
