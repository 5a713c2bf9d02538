"""GET /be/tickets (contract.md § GET /be/tickets): the operator's tickets, newest first."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from tests.factories import BetcardFactory, OperatorFactory, TicketFactory
from tests.support.api import signed_get
from tickets.identifiers import ticket_id
from tickets.models import Ticket, TicketStatus

pytestmark = pytest.mark.django_db

BASE = timezone.now().replace(microsecond=0) - dt.timedelta(days=1)


@pytest.fixture
def operator():
    return OperatorFactory()


def sold(operator, count, *, start=BASE, **fields) -> list[Ticket]:
    """`count` tickets one second apart from `start`, ids consistent with their times."""
    tickets = []
    for number in range(count):
        created = start + dt.timedelta(seconds=number)
        tickets.append(
            TicketFactory.create(
                operator=operator,
                id=ticket_id(created.timestamp()),
                created_at=created,
                **fields,
            )
        )
    return tickets


def listed(client, operator, query="") -> list[str]:
    response = signed_get(client, operator, f"/be/tickets{query}")
    assert response.status_code == 200, response.content
    return [ticket["code"] for ticket in response.json()]


def codes(tickets) -> list[str]:
    return [ticket.code for ticket in tickets]


def newest_first(tickets) -> list[str]:
    return codes(sorted(tickets, key=lambda ticket: ticket.id, reverse=True))


def test_newest_first_each_exactly_as_the_single_ticket_read(client, operator):
    # given
    tickets = sold(operator, 3)

    # when
    response = signed_get(client, operator, "/be/tickets")

    # then
    assert [ticket["code"] for ticket in response.json()] == newest_first(tickets)
    for ticket in response.json():
        alone = signed_get(client, operator, f"/be/tickets/{ticket['id']}").json()
        assert ticket == alone
    assert "Link" not in response


def test_only_the_callers_tickets(client, operator):
    mine = sold(operator, 2)
    sold(OperatorFactory(), 2)

    assert listed(client, operator) == newest_first(mine)


def test_pages_follow_the_link_to_the_end_without_gaps_or_repeats(client, operator):
    # given: 25 tickets, pages of 10
    tickets = sold(operator, 25)
    seen: list[str] = []
    path = "/be/tickets?limit=10&status=open"

    # when
    pages = 0
    while path:
        response = signed_get(client, operator, path)
        seen += [ticket["code"] for ticket in response.json()]
        pages += 1
        link = response.get("Link")
        path = link[1 : link.index(">")] if link else ""
        if link:
            assert link.endswith('>; rel="next"')
            assert parse_qs(urlsplit(path).query)["status"] == ["open"]  # same query

    # then
    assert pages == 3
    assert seen == newest_first(tickets)


def test_limit_defaults_to_10_and_goes_up_to_100(client, operator):
    sold(operator, 12)

    assert len(listed(client, operator)) == 10
    assert len(listed(client, operator, "?limit=100")) == 12
    assert len(listed(client, operator, "?limit=1")) == 1


def test_a_full_last_page_has_no_next_link(client, operator):
    sold(operator, 10)

    response = signed_get(client, operator, "/be/tickets?limit=10")

    assert len(response.json()) == 10
    assert "Link" not in response


def test_before_gives_the_older_tickets(client, operator):
    tickets = sold(operator, 5)
    middle = sorted(tickets, key=lambda t: t.id)[2]

    assert listed(client, operator, f"?before={middle.id}") == newest_first(
        [t for t in tickets if t.id < middle.id]
    )


def test_user_id_is_the_token_until_the_pam_names_the_player(client, operator):
    # given
    by_token = sold(operator, 1, token="tok-1")
    named = sold(operator, 1, token="tok-2", user_id="player-9", start=BASE + dt.timedelta(1))
    sold(operator, 1, token="someone-else", start=BASE + dt.timedelta(2))

    # then
    assert listed(client, operator, "?user_id=tok-1") == codes(by_token)
    assert listed(client, operator, "?user_id=player-9") == codes(named)
    assert listed(client, operator, "?user_id=tok-2") == []  # answered as player-9


def test_skip_types_leaves_out_that_type(client, operator):
    sold(operator, 2)

    assert listed(client, operator, "?skip_types=jackpot") == []
    assert len(listed(client, operator, "?skip_types=lotto")) == 2


def test_betcard_code_filter(client, operator):
    card = BetcardFactory(events=1)
    on_card = sold(operator, 2, betcard=card)
    sold(operator, 2, start=BASE + dt.timedelta(hours=1))

    assert listed(client, operator, f"?betcard_code={card.code}") == newest_first(on_card)
    assert listed(client, operator, "?betcard_code=NOSUCH") == []


def test_status_filter_is_repeatable(client, operator):
    open_ = sold(operator, 2)
    cancelled = sold(
        operator, 2, status=TicketStatus.CANCELLED, start=BASE + dt.timedelta(minutes=1)
    )
    reserved = sold(operator, 1, status=TicketStatus.RESERVED, start=BASE + dt.timedelta(minutes=2))

    assert listed(client, operator, "?status=cancelled") == newest_first(cancelled)
    assert listed(client, operator, "?status=open&status=reserved") == newest_first(
        open_ + reserved
    )


def test_created_range_includes_from_and_excludes_to(client, operator):
    tickets = sold(operator, 5)  # BASE + 0..4 s
    start = (BASE + dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%f")
    end = (BASE + dt.timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%S")

    assert listed(client, operator, f"?created_from={start}&created_to={end}") == newest_first(
        tickets[1:3]
    )


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("{from}Z", "{to}Z"),
        ("{from}z", "{to}%2B00:00"),
        # the same instants three hours ahead, with the `+` encoded, or not (then a space)
        ("{from_east}%2B03:00", "{to_east}+03:00"),
        ("{from_west}-05:30", "{to_west}-05:30"),
    ],
)
def test_created_range_takes_a_zone_z_or_an_offset(client, operator, start, end):
    tickets = sold(operator, 5)  # BASE + 0..4 s
    low, high = BASE + dt.timedelta(seconds=1), BASE + dt.timedelta(seconds=3)
    layout = "%Y-%m-%dT%H:%M:%S"
    times = {
        "from": low.strftime(layout),
        "to": high.strftime(layout),
        "from_east": (low + dt.timedelta(hours=3)).strftime(layout),
        "to_east": (high + dt.timedelta(hours=3)).strftime(layout),
        "from_west": (low - dt.timedelta(hours=5, minutes=30)).strftime(layout),
        "to_west": (high - dt.timedelta(hours=5, minutes=30)).strftime(layout),
    }
    query = f"?created_from={start.format(**times)}&created_to={end.format(**times)}"

    assert listed(client, operator, query) == newest_first(tickets[1:3])


def test_filters_combine(client, operator):
    card = BetcardFactory(events=1)
    wanted = sold(operator, 2, betcard=card, token="p1")
    sold(operator, 2, betcard=card, token="p2", start=BASE + dt.timedelta(minutes=1))
    sold(operator, 2, token="p1", start=BASE + dt.timedelta(minutes=2))

    query = f"?betcard_code={card.code}&user_id=p1&status=open&limit=1"
    assert listed(client, operator, query) == newest_first(wanted)[:1]


@pytest.mark.parametrize(
    ("query", "bad"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("status=won", "status"),
        ("created_from=2026-13-01T00:00:00", "created_from"),
        ("created_to=yesterday", "created_to"),
        ("created_to=2026-01-01T00:00:00%2B25:00", "created_to"),
        ("created_to=2026-01-01T00:00:00Q", "created_to"),
        ("before=ABC123", "before"),
        ("before=" + "g" * 24, "before"),
        ("user_id=" + "u" * 256, "user_id"),
        ("skip_types=", "skip_types"),
        ("betcard_code=" + "B" * 33, "betcard_code"),
    ],
)
def test_bad_parameter_is_422_naming_it(client, operator, query, bad):
    response = signed_get(client, operator, f"/be/tickets?{query}")

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["query", bad]]


def test_every_bad_parameter_is_named(client, operator):
    response = signed_get(client, operator, "/be/tickets?limit=0&status=x&before=y")

    assert [error["loc"][1] for error in response.json()["detail"]] == [
        "limit", "status", "before",
    ]  # fmt: skip


@pytest.mark.parametrize("limit", [1, 100])
def test_a_page_is_a_constant_number_of_queries(client, operator, limit, django_assert_num_queries):
    sold(operator, 101)

    # the operator, the page's ids, the tickets with their cards, their selections
    with django_assert_num_queries(4):
        response = signed_get(
            client, operator, f"/be/tickets?limit={limit}&status=open&status=cancelled"
        )

    assert len(response.json()) == limit
