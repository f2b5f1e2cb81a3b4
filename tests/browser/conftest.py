"""The console and Swagger UI in headless Chromium (Debian's package), driven by Playwright for Python.

Playwright's own browser download is never used: it launches /usr/bin/chromium, which `.ci/run`
installs with apt when it is missing. Every request the pages make outside the stack is refused,
so a page that needed a CDN would fail here.
"""

from __future__ import annotations

import shutil
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import sync_playwright

from tests.e2e.conftest import stack  # noqa: F401  (the local stack as `make run` starts it)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As the machine notes say: no sandbox as root, and none of Chromium's calls home on a closed network.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser, stack):  # noqa: F811
    """A fresh tab (its own session storage) whose requests may only go to the stack."""
    contexts, outside = [], []

    def open_at(path: str, viewport: dict | None = None):
        context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900})
        contexts.append(context)

        def only_the_stack(route):
            if urlsplit(route.request.url).netloc == urlsplit(stack.api_url).netloc:
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", only_the_stack)
        page = context.new_page()
        page.goto(stack.api_url + path)
        return page

    yield open_at
    for context in contexts:
        context.close()
    assert outside == [], f"the pages asked for something outside the stack: {outside}"
