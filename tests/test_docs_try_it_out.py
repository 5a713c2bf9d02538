"""The API docs page (/be/docs) signs its "Try it out" requests with an operator name and
secret typed into its signing panel and kept in the browser only (localStorage), driven in
headless Chromium (Playwright + Debian chromium) against the production web server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from django.db import connection

from operators.models import Operator
from tests.support.sample import sample_setup
from tests.support.web import WebServer

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian's chromium is not installed"),
]


@pytest.fixture
def operator() -> Operator:
    """The sample operator, set up before the browser starts: inside Playwright's event loop
    Django would use another connection than the test's. A connection an earlier test of
    this process ended (test_database_outage terminates the database's sessions) is
    replaced first."""
    connection.close_if_unusable_or_obsolete()
    return sample_setup().operator


@pytest.fixture
def page(operator: Operator, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own database
    # calls (its setup) are synchronous all the same.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()


def _loaded(page) -> None:
    """The panel, and Swagger UI done fetching and rendering the schema."""
    page.wait_for_selector("#jackpot-signing")
    page.wait_for_load_state("networkidle")
    page.wait_for_selector("#operations-bc-betcards_list")


def _try_it_out(page, operation: str) -> str:
    """Open the operation, press "Try it out" then "Execute"; the answer's status."""
    block = f"#operations-{operation}"
    execute = f"{block} button:has-text('Execute')"
    try_it = f"{block} button:has-text('Try it out')"
    if not page.is_visible(execute):
        if not page.is_visible(try_it):  # closed (a reload may reopen it: deep links)
            page.click(f"{block} .opblock-summary-control")
        page.click(try_it)
    page.click(execute)
    status = f"{block} .live-responses-table .response .response-col_status"
    page.wait_for_selector(status, timeout=15000)
    return str(page.inner_text(status)).strip()


def test_try_it_out_is_signed_with_the_secret_kept_in_the_browser(operator, page):
    secret = operator.secret_key  # decrypted here, before the page is driven
    with WebServer() as server:
        page.goto(f"{server.url}/be/docs")
        _loaded(page)

        unsigned = _try_it_out(page, "bc-betcards_list")
        page.fill("#jackpot-signing [name=operator]", operator.name)
        page.fill("#jackpot-signing [name=secret]", secret)
        page.click("#jackpot-signing button[type=submit]")
        page.reload()
        _loaded(page)
        kept = page.input_value("#jackpot-signing [name=operator]")
        signed = _try_it_out(page, "bc-betcards_list")

    assert unsigned == "403"
    assert kept == operator.name  # kept across a reload, in this browser only
    assert signed == "200"
