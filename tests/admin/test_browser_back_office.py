"""The back office driven in headless Chromium, as staff use it (Playwright + Debian chromium).

A manager registers an operator (secret shown once), imports a catalogue file, creates a
betcard with events picked and ordered, opens it; a ticket is placed through the signed API;
a real Celery worker delivers its ticket_create to a local PAM; the manager finds the ticket
by code and sees its selections and webhook attempts. A clerk then looks around and can
change nothing. Screenshots of the key pages go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.db import connection
from pytest_django.live_server_helper import LiveServer

from operators.models import Operator
from tests.support.api import compact, signed_headers
from tests.support.pam import ScriptedPam
from tests.support.staff import staff_user
from tests.support.worker import CeleryWorker, RedisServer, celery_broker, free_port
from tickets.models import DeliveryStatus, WebhookDelivery

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
ADMIN_PORTS = range(18600, 18700)  # this suite's own port range on the shared machine

pytestmark = [
    pytest.mark.browser,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None,
        reason="Debian's chromium is not installed (apt-get install chromium)",
    ),
]

CATALOGUE = {
    "teams": [
        {"id": 1, "name": "Arsenal"},
        {"id": 2, "name": "Chelsea"},
        {"id": 3, "name": "Liverpool"},
        {"id": 4, "name": "Everton"},
        {"id": 5, "name": "Leeds"},
        {"id": 6, "name": "Fulham"},
    ],
    "events": [
        {
            "id": event_id,
            "home": home,
            "away": home + 1,
            "starts_at": "2030-12-01T15:00:00Z",
            "bookmaker_event": f"bm-{event_id}",
            "markets": [
                {
                    "id": event_id * 10,
                    "name": "1X2",
                    "blocked": False,
                    "bets": [
                        {"id": event_id * 10 + 1, "name": "1", "odds": 2.55},
                        {"id": event_id * 10 + 2, "name": "X", "odds": 3.10},
                        {"id": event_id * 10 + 3, "name": "2", "odds": 2.70},
                    ],
                }
            ],
        }
        for event_id, home in ((265825, 1), (265826, 3), (265827, 5))
    ],
    "betcards": [],
}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def _close_other_sessions() -> Iterator[None]:
    """After the test, end this test database's other sessions (the live server's request
    threads keep theirs while the browser holds keep-alive sockets), so it can be dropped."""
    yield
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[CeleryWorker]:
    redis = RedisServer()
    redis.port = free_port(ADMIN_PORTS)
    redis.start()
    try:
        with celery_broker(redis.url):
            celery = CeleryWorker(broker_url=redis.url, log_dir=tmp_path, env={}).start()
            try:
                yield celery
            finally:
                celery.stop()
    finally:
        redis.stop()


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; the test's own ORM calls
    # are still plain synchronous ones (Playwright's documented Django setting).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def log_in(browser: Any, base: str, username: str) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(20_000)
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", "back-office-password-1")
    submit(page, "input[type=submit]")
    return page


def submit(page: Any, selector: str) -> None:
    """Click something that loads a new page, and wait until that page has loaded."""
    try:
        with page.expect_navigation():
            page.click(selector)
    except Exception:
        shot(page, "failed-navigation")
        raise


def pick_event(page: Any, row: int, event_id: int) -> None:
    """Choose an event in the autocomplete (select2) of the inline's row `row`."""
    page.fill(f"#id_card_events-{row}-position", str(row + 1))
    page.locator(f"#id_card_events-{row}-event + .select2").click()
    page.locator(".select2-container--open .select2-search__field").fill(str(event_id))
    page.locator(".select2-results__option", has_text=f"{event_id}:").click()
    # The choice lands in the hidden <select> after select2's own handlers ran; saving before
    # that (a loaded CI machine) would post the row without its event.
    page.wait_for_function(
        "([selector, value]) => document.querySelector(selector).value === value",
        arg=[f"#id_card_events-{row}-event", str(event_id)],
    )


def form_errors(page: Any) -> str:
    """The admin's error messages on the page, for a failing assertion to show."""
    return " | ".join(page.locator(".errornote, .errorlist").all_inner_texts())


@pytest.mark.usefixtures("_close_other_sessions")  # first in, so torn down last
def test_manager_runs_a_jackpot_and_a_clerk_only_looks(
    live_server: LiveServer,
    browser: Any,
    pam: ScriptedPam,
    worker: CeleryWorker,
    tmp_path: Path,
) -> None:
    # given staff accounts
    staff_user("manny", group="manager")
    staff_user("clara", group="clerk")
    base = live_server.url
    page = log_in(browser, base, "manny")
    shot(page, "01-index")

    # when the manager registers the operator, the secret key is shown once
    page.goto(f"{base}/admin/operators/operator/add/")
    page.fill("#id_name", "acme")
    page.fill("#id_webhook_url", pam.url)
    page.select_option("#id_timezone", "Africa/Nairobi")
    page.fill("#id_currencies", "USD")
    page.fill("#id_ext_percent", "12.5")
    page.fill("#id_wht_percent", "10")
    shot(page, "02-operator-add")
    submit(page, "input[name=_save]")
    secret = page.locator("#secret-key").inner_text().strip()
    # The PAM checks webhook signatures with the key it is given (no DB reads in its threads).
    pam.trust(Operator.objects.get(name="acme"))
    shot(page, "03-operator-secret-once")
    assert len(secret) >= 30
    submit(page, "text=I have copied it: back to the operator")
    assert secret not in page.content()
    shot(page, "04-operator-change")

    # and imports the catalogue file
    catalogue = tmp_path / "catalogue.json"
    catalogue.write_text(json.dumps(CATALOGUE))
    page.goto(f"{base}/admin/betcards/event/")
    submit(page, "text=Import catalogue")
    page.set_input_files("#id_document", str(catalogue))
    shot(page, "05-catalogue-import")
    submit(page, "#import-form input[type=submit]")
    assert "Catalogue imported: teams: 6 created" in page.content()
    shot(page, "06-events-list")
    page.goto(f"{base}/admin/betcards/event/265825/change/")
    shot(page, "07-event-markets-odds")

    # and creates a betcard with three events in order, then opens it
    page.goto(f"{base}/admin/betcards/betcard/add/")
    page.fill("#id_code", "WKND01")
    page.fill("#id_name", "Weekend Mega Jackpot")
    page.fill("#id_currency", "USD")
    page.fill("#id_price", "500")
    page.fill("#id_prize", "1000000")
    page.fill("#id_bonus_prizes", "20000,15000,10000")
    page.fill("#id_opens_at_0", "2026-01-01")
    page.fill("#id_opens_at_1", "00:00:00")
    for row, event_id in enumerate((265825, 265826, 265827)):
        pick_event(page, row, event_id)
    shot(page, "08-betcard-add")
    submit(page, "input[name=_continue]")
    assert "was added successfully" in page.content(), form_errors(page)
    submit(page, "text=Open for sales")
    assert "Betcard WKND01: Opened for sales." in page.content()

    # when a ticket is placed through the signed API
    body = compact(
        {
            "operator": "acme",
            "token": "player-token-42",
            "psp": "mobile",
            "price": 500,
            "currency": "USD",
            "atag": None,
            "rtag": None,
            "source": "desktop",
            "type": "jackpot",
            "odds_diff": 0,
            "events": [
                {"id": 265825, "bet": 2658251, "odds": 2.55},
                {"id": 265826, "bet": 2658262, "odds": 3.10},
                {"id": 265827, "bet": 2658273, "odds": 2.70},
            ],
            "betcard_code": "WKND01",
            "prize": 1000000,
            "bonus_prizes": [20000, 15000, 10000],
        }
    )
    answer = httpx.post(
        f"{base}/be/tickets",
        content=body,
        headers={
            "content-type": "application/json",
            **signed_headers("acme", body, secret=secret),
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    code = answer.json()["code"]

    # then the worker delivers ticket_create to the PAM
    pam.wait_for(lambda got: len(got) >= 1, timeout=60, what="ticket_create")
    deadline = time.monotonic() + 30
    while not WebhookDelivery.objects.filter(
        ticket__code=code, status=DeliveryStatus.DELIVERED
    ).exists():
        assert time.monotonic() < deadline, worker.log()
        time.sleep(0.2)

    # and the manager finds the ticket by code, with its selections and webhook attempts
    page.goto(f"{base}/admin/betcards/betcard/")
    shot(page, "09-betcards-live-figures")
    page.goto(f"{base}/admin/tickets/ticket/")
    page.fill("#searchbar", code.lower())
    with page.expect_navigation():
        page.press("#searchbar", "Enter")
    shot(page, "10-tickets-search")
    submit(page, f"#result_list a:text-is('{code}')")
    content = page.content()
    assert "1X2: X (bet 2658262)" in content
    assert "<td>200</td>" in content
    assert "ticket_create" in content
    assert "Cancel ticket" in content
    shot(page, "11-ticket-selections-attempts")
    submit(page, "text=Cancel ticket")
    shot(page, "12-ticket-cancel-confirm")

    # and a clerk sees everything but can change nothing
    clerk = log_in(browser, base, "clara")
    clerk.goto(f"{base}/admin/tickets/ticket/?q={code}")
    submit(clerk, f"#result_list a:text-is('{code}')")
    assert "Cancel ticket" not in clerk.content()
    assert "Retry webhooks" not in clerk.content()
    clerk.goto(f"{base}/admin/betcards/betcard/")
    assert clerk.locator("select[name=action]").count() == 0
    submit(clerk, "#result_list a:text-is('WKND01')")
    assert clerk.locator("input[name=_save]").count() == 0
    assert "Open for sales" not in clerk.content()
    assert "Close sales" not in clerk.content()
    shot(clerk, "13-clerk-betcard-read-only")
    clerk.goto(f"{base}/admin/operators/operator/")
    assert clerk.locator("a.addlink").count() == 0
    forbidden = clerk.goto(f"{base}/admin/betcards/betcard/add/")
    assert forbidden is not None
    assert forbidden.status == 403
