"""The operator console and Swagger UI, as a person uses them, against the running local stack."""

from __future__ import annotations

import gzip
import time

import requests
from playwright.sync_api import expect

from local.template import ROOT
from tests.browser.conftest import PHONE

SHOTS = ROOT / "docs" / "screenshots"
HEADER = "type,action,audience_id,ts,fs_user_id\n"


def segment(stack, key: str) -> None:
    definition = {"definition": {"external": {"external_audience_id": key}}, "description": "from the browser test"}
    assert stack.call("PUT", f"/v3/segments/{key}", key=stack.private_key, json=definition).status_code == 200


def upload(stack, key: str, lines: list[str]) -> None:
    """An audience file through ODP's presigned upload URL, as a customer's job sends it."""
    reply = stack.call("POST", "/v3/imports/upload-url", key=stack.private_key, json={"audience": key})
    assert reply.status_code == 200, reply.text
    data = gzip.compress((HEADER + "".join(line + "\n" for line in lines)).encode())
    assert requests.put(reply.json()["url"], data=data, timeout=10).status_code == 200


def members(key: str, users: list[str]) -> list[str]:
    return [f"passthrough,qualify,{key},{int(time.time())},{user}" for user in users]


def sign_in(page, key: str) -> None:
    page.get_by_label("Private key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def audience_row(page, key: str):
    return page.locator(f'#audiences tbody tr[data-key="{key}"]')


def test_sign_in_and_see_a_size_change_after_an_import(stack, open_page):
    segment(stack, "browser_vip")
    page = open_page("/console")
    sign_in(page, stack.private_key)
    row = audience_row(page, "browser_vip")
    expect(row.locator("[data-size]")).to_have_text("0")
    expect(row).to_contain_text("odp")

    upload(stack, "browser_vip", members("browser_vip", ["ann", "bob", "cy"]))

    expect(row.locator("[data-size]")).to_have_text("3", timeout=30_000)  # the page refreshes itself
    expect(page.locator("#activity tbody tr").first).to_contain_text("SUCCESS")
    row.get_by_role("button", name="Size history of browser_vip").click()
    expect(page.locator("#history-points li")).to_have_count(2)  # after the import, and now
    expect(page.locator("#chart polyline")).to_have_count(1)
    page.screenshot(path=SHOTS / "console.png", full_page=True)


def test_a_failed_import_shows_its_line_numbered_errors(stack, open_page):
    segment(stack, "browser_bad")
    page = open_page("/console")
    sign_in(page, stack.private_key)

    upload(stack, "browser_bad", [*members("browser_bad", ["ann"]), "passthrough,qualify,browser_bad,soon,bob"])

    failed = page.locator("#activity tbody tr", has_text="browser_bad").first
    expect(failed).to_contain_text("FAILED", timeout=30_000)
    expect(failed.locator("details li")).to_contain_text("line 3:")
    expect(audience_row(page, "browser_bad").locator("[data-size]")).to_have_text("0")  # nothing half-applied
    failed.scroll_into_view_if_needed()
    page.screenshot(path=SHOTS / "console-failed-import.png", full_page=True)


def test_a_customer_lookup_names_the_audiences_and_since_when(stack, open_page):
    segment(stack, "browser_lookup")
    event = {"type": "passthrough", "action": "qualify", "identifiers": {"fs_user_id": "dee"}}
    event["data"] = {"audience_id": "browser_lookup", "ts": 1_748_851_070}
    assert stack.call("POST", "/v3/events", key=stack.public_key, json=[event]).status_code == 202
    page = open_page("/console")
    sign_in(page, stack.private_key)

    page.get_by_label("Value").fill("dee")
    page.get_by_role("button", name="Look up").click()

    expect(page.locator("#customer")).to_contain_text("browser_lookup (browser_lookup), since")
    page.get_by_label("Value").fill("nobody-at-all")
    page.get_by_role("button", name="Look up").click()
    expect(page.locator("#customer")).to_contain_text("Nothing is known of fs_user_id = nobody-at-all")
    expect(page.locator("#privacy")).to_contain_text("No privacy request names them.")


def test_a_customer_lookup_lists_the_privacy_requests_naming_them(stack, open_page):
    regulation = {"regulationType": "SUPPRESS_ONLY", "subjectType": "USER_ID", "subjectIds": ["erin"]}
    headers = {"Authorization": f"Bearer {stack.private_key}"}
    assert stack.call("POST", "/regulations", json=regulation, headers=headers).status_code == 200
    page = open_page("/console")
    sign_in(page, stack.private_key)
    page.get_by_label("Value").fill("erin")
    page.get_by_role("button", name="Look up").click()
    expect(page.locator("#privacy tbody tr")).to_have_count(1)
    expect(page.locator("#privacy")).to_contain_text("suppress")
    expect(page.locator("#privacy")).to_contain_text("segment")


def test_a_wrong_key_or_a_public_key_is_refused_and_not_kept(stack, open_page):
    for key in ("pa_prv_not_a_key", stack.public_key):
        page = open_page("/console")
        sign_in(page, key)

        expect(page.get_by_role("status")).to_contain_text("Wrong key")
        expect(page.get_by_label("Private key")).to_be_visible()
        assert page.evaluate("Object.keys(sessionStorage)") == []


def test_the_key_lives_in_the_tab_only_and_sign_out_forgets_it(stack, open_page):
    page = open_page("/console")
    sign_in(page, stack.private_key)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert page.evaluate("document.cookie") == "" and page.evaluate("localStorage.length") == 0

    page.reload()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()  # same tab: still signed in
    page.get_by_role("button", name="Sign out").click()

    expect(page.get_by_label("Private key")).to_be_visible()
    assert page.evaluate("Object.keys(sessionStorage)") == []


def test_the_console_fits_a_phone(stack, open_page):
    segment(stack, "browser_phone")
    page = open_page("/console", viewport=PHONE)
    sign_in(page, stack.private_key)
    expect(audience_row(page, "browser_phone")).to_be_visible()

    # Wide tables scroll inside their own box; the page itself never scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=SHOTS / "console-phone.png", full_page=True)


def test_swagger_ui_shows_every_dialect_from_the_stacks_own_files(stack, open_page):
    page = open_page("/docs")

    for tag in ("ODP segments", "Segment Public API: audiences", "Segment Tracking API", "Operator console"):
        expect(page.get_by_role("heading", name=tag).first).to_be_visible(timeout=15_000)
    expect(page.get_by_role("button", name="Authorize")).to_be_visible()
    page.screenshot(path=SHOTS / "swagger-ui.png")

    # "Try it out" goes to this stack: the page points the document's server at where it is.
    expect(page.locator(".servers select")).to_contain_text(stack.api_url)
    operation = page.locator("#operations-Pages-openapi_document_openapi_json_get")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    expect(operation.locator(".live-responses-table tbody .response-col_status").first).to_have_text("200")
