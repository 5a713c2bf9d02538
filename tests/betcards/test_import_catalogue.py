from __future__ import annotations

import copy
import datetime as dt
import io
import json
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from betcards.catalogue.importing import (
    CatalogueInvalid,
    ImportSummary,
    KindCounts,
    catalogue_import,
)
from betcards.models import (
    Bet,
    Betcard,
    BetcardEvent,
    BetcardStatus,
    BookmakerEvent,
    Event,
    Market,
    MarketResultChange,
    Team,
)
from tests.factories import EventFactory, OperatorFactory, TicketFactory

pytestmark = pytest.mark.django_db

CATALOGUE_TABLES = [
    "betcards_team",
    "betcards_event",
    "betcards_bookmakerevent",
    "betcards_market",
    "betcards_bet",
    "betcards_betcard",
    "betcards_betcardevent",
    "betcards_marketresultchange",
]

# The document of operations.md, completed so that it is importable: the card's two other
# events (265826, 265827) and their teams are added, and min_events fits the card's 3 events.
SAMPLE: dict[str, Any] = {
    "teams": [
        {"id": 1, "name": "Arsenal"},
        {"id": 2, "name": "Chelsea", "active": True},
        {"id": 3, "name": "Everton"},
        {"id": 4, "name": "Fulham", "active": False},
    ],
    "events": [
        {
            "id": 265825, "home": 1, "away": 2, "starts_at": "2026-12-01T15:00:00Z",
            "bookmaker_event": "bm-9911",
            "markets": [{"id": 7001, "name": "1X2", "blocked": False, "bets": [
                {"id": 14, "name": "1", "odds": 2.55},
                {"id": 15, "name": "X", "odds": 3.10},
                {"id": 16, "name": "2", "odds": 2.70},
            ]}],
        },
        {
            "id": 265826, "home": 3, "away": 4, "starts_at": "2026-12-01T17:30:00+03:00",
            "bookmaker_event": None,
            "markets": [{"id": 7002, "name": "1X2", "blocked": True, "bets": [
                {"id": 17, "name": "1", "odds": 1.9},
                {"id": 18, "name": "X", "odds": 3.4},
                {"id": 19, "name": "2", "odds": 4},
            ]}],
        },
        {
            "id": 265827, "home": 2, "away": 3, "starts_at": "2026-12-02T15:00:00Z",
            "bookmaker_event": "bm-9913",
            "markets": [{"id": 7003, "name": "1X2", "bets": [
                {"id": 20, "name": "1", "odds": 2},
                {"id": 21, "name": "X", "odds": 3.125},
                {"id": 22, "name": "2", "odds": 3.5},
            ]}],
        },
    ],
    "betcards": [
        {
            "code": "ABC123", "name": "Weekend Mega Jackpot", "operator": None,
            "currency": "USD", "price": 500, "prize": 10000, "bonus_prizes": [2000, 1500, 1000],
            "min_events": 2, "events": [265825, 265826, 265827],
            "opens_at": "2026-11-25T00:00:00Z", "status": "open",
        }
    ],
}  # fmt: skip


def sample() -> dict[str, Any]:
    return copy.deepcopy(SAMPLE)


def dump_catalogue() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every catalogue table, to compare the database before and after."""
    dump = {}
    with connection.cursor() as cursor:
        for table in CATALOGUE_TABLES:
            cursor.execute(f"SELECT * FROM {table} ORDER BY 1")
            dump[table] = cursor.fetchall()
    return dump


def import_file(tmp_path: Path, document: object) -> str:
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(document))
    out = io.StringIO()
    call_command("import_catalogue", str(path), stdout=out)
    return out.getvalue()


def test_imports_the_operations_sample(tmp_path: Path) -> None:
    # when
    out = import_file(tmp_path, sample())

    # then
    assert out == (
        "imported teams: 4 created, 0 updated, 0 unchanged; "
        "events: 3 created, 0 updated, 0 unchanged; "
        "markets: 3 created, 0 updated, 0 unchanged; "
        "bets: 9 created, 0 updated, 0 unchanged; "
        "betcards: 1 created, 0 updated, 0 unchanged; results changed: 0\n"
    )
    assert list(Team.objects.order_by("id").values_list("id", "name", "is_active")) == [
        (1, "Arsenal", True),
        (2, "Chelsea", True),
        (3, "Everton", True),
        (4, "Fulham", False),
    ]
    assert list(
        Event.objects.order_by("id").values_list("id", "home_team", "away_team", "starts_at")
    ) == [
        (265825, 1, 2, dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)),
        (265826, 3, 4, dt.datetime(2026, 12, 1, 14, 30, tzinfo=dt.UTC)),
        (265827, 2, 3, dt.datetime(2026, 12, 2, 15, 0, tzinfo=dt.UTC)),
    ]
    assert dict(BookmakerEvent.objects.values_list("event_id", "external_id")) == {
        265825: "bm-9911",
        265827: "bm-9913",
    }
    assert list(Market.objects.order_by("id").values_list("id", "event", "name", "is_blocked")) == [
        (7001, 265825, "1X2", False),
        (7002, 265826, "1X2", True),
        (7003, 265827, "1X2", False),
    ]
    assert list(
        Bet.objects.filter(market=7003).order_by("id").values_list("id", "name", "odds")
    ) == [
        (20, "1", Decimal("2.000")),
        (21, "X", Decimal("3.125")),
        (22, "2", Decimal("3.500")),
    ]
    card = Betcard.objects.get(code="ABC123")
    assert (
        card.name,
        card.operator_id,
        card.currency,
        card.price,
        card.prize,
        card.bonus_prizes,
        card.min_events,
        card.opens_at,
        card.closes_at,
        card.status,
    ) == (
        "Weekend Mega Jackpot",
        None,
        "USD",
        500,
        10000,
        [2000, 1500, 1000],
        2,
        dt.datetime(2026, 11, 25, tzinfo=dt.UTC),
        None,
        "open",
    )
    assert list(card.card_events.values_list("position", "event_id")) == [
        (1, 265825),
        (2, 265826),
        (3, 265827),
    ]


def test_importing_twice_leaves_the_database_exactly_as_the_first_import(tmp_path: Path) -> None:
    # given
    document = sample()
    document["events"][2]["markets"][0]["result"] = {"winning_bet": 21}
    import_file(tmp_path, document)
    first = dump_catalogue()

    # when
    out = import_file(tmp_path, document)

    # then
    assert dump_catalogue() == first
    assert out == (
        "imported teams: 0 created, 0 updated, 4 unchanged; "
        "events: 0 created, 0 updated, 3 unchanged; "
        "markets: 0 created, 0 updated, 3 unchanged; "
        "bets: 0 created, 0 updated, 9 unchanged; "
        "betcards: 0 created, 0 updated, 1 unchanged; results changed: 0\n"
    )


def test_reimport_updates_only_what_changed() -> None:
    # given
    catalogue_import(sample())
    document = sample()
    document["teams"][0]["name"] = "Arsenal FC"
    document["events"][0]["bookmaker_event"] = None
    document["events"][1]["bookmaker_event"] = "bm-9911"
    document["events"][2]["home"] = 4
    document["events"][2]["markets"][0]["bets"][1]["odds"] = 3.2
    document["betcards"][0]["events"] = [265827, 265825]
    card_before = Betcard.objects.get(code="ABC123")

    # when
    summary = catalogue_import(document)

    # then
    assert summary == ImportSummary(
        teams=KindCounts(updated=1, unchanged=3),
        events=KindCounts(updated=3),
        markets=KindCounts(unchanged=3),
        bets=KindCounts(updated=1, unchanged=8),
        betcards=KindCounts(updated=1),
        results_changed=0,
    )
    assert Team.objects.get(id=1).name == "Arsenal FC"
    assert Event.objects.get(id=265827).home_team_id == 4
    assert dict(BookmakerEvent.objects.values_list("event_id", "external_id")) == {
        265826: "bm-9911",
        265827: "bm-9913",
    }
    assert Bet.objects.get(id=21).odds == Decimal("3.200")
    card = Betcard.objects.get(code="ABC123")
    assert list(card.card_events.values_list("position", "event_id")) == [
        (1, 265827),
        (2, 265825),
    ]
    assert card.updated_at > card_before.updated_at


def test_reads_the_document_from_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(sample())))
    out = io.StringIO()

    call_command("import_catalogue", "-", stdout=out)

    assert out.getvalue().startswith("imported teams: 4 created, 0 updated, 0 unchanged;")
    assert Betcard.objects.filter(code="ABC123").exists()


def test_result_import_sets_the_winner_with_one_audit_row_and_reimport_writes_none() -> None:
    # given
    catalogue_import(sample())
    document = sample()
    document["events"][0]["markets"][0]["result"] = {"winning_bet": 15}
    document["events"][1]["markets"][0]["result"] = {"void": True}

    # when
    first = catalogue_import(document)
    second = catalogue_import(document)

    # then
    assert (first.results_changed, second.results_changed) == (2, 0)
    market = Market.objects.get(id=7001)
    assert (market.winning_bet_id, market.is_void, market.result_set_by) == (15, False, None)
    assert market.result_set_at is not None
    assert Market.objects.get(id=7002).is_void is True
    assert list(
        MarketResultChange.objects.order_by("market_id").values_list(
            "market_id", "winning_bet_id", "is_void", "changed_by", "source"
        )
    ) == [(7001, 15, False, None, "import"), (7002, None, True, None, "import")]


def test_changed_result_writes_a_second_audit_row() -> None:
    document = sample()
    document["events"][0]["markets"][0]["result"] = {"winning_bet": 15}
    catalogue_import(document)
    document["events"][0]["markets"][0]["result"] = {"winning_bet": 16}

    catalogue_import(document)

    assert Market.objects.get(id=7001).winning_bet_id == 16
    assert list(
        MarketResultChange.objects.order_by("id").values_list("winning_bet_id", flat=True)
    ) == [15, 16]


def _set(path: str, value: object) -> Any:
    """A change to the sample: `path` is dotted keys and list indexes, e.g. `events.2.home`."""

    def change(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = document
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return change


BET_15 = "events[0] (id 265825).markets[0] (id 7001).bets[1] (id 15)"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            _set("events.2.home", 99),
            "events[2] (id 265827): home team 99 is not in the catalogue",
        ),
        (
            _set("events.0.markets.0.bets.1.odds", 0.95),
            f"{BET_15}: odds must be a number >= 1 and < 10000000",
        ),
        (_set("events.0.markets.0.bets.1.odds", "3.10"), f"{BET_15}: odds must be a number >= 1"),
        (
            _set("events.0.markets.0.bets.1.odds", 3.1005),
            f"{BET_15}: odds must have at most 3 decimals",
        ),
        (
            _set("betcards.0.events", [265825, 265826, 999]),
            "betcards[0] (code ABC123): event 999 is not in the catalogue",
        ),
        (
            _set("betcards.0.events", [265825, 265825]),
            "betcards[0] (code ABC123): events lists an event more than once",
        ),
        (
            _set("betcards.0.price", 0),
            "betcards[0] (code ABC123): price must be a positive integer",
        ),
        (
            _set("betcards.0.prize", -1),
            "betcards[0] (code ABC123): prize must be a non-negative integer",
        ),
        (
            _set("betcards.0.bonus_prizes", [100, -5]),
            "betcards[0] (code ABC123): bonus_prizes must be a list of non-negative integers",
        ),
        (
            _set("betcards.0.min_events", 4),
            "betcards[0] (code ABC123): min_events must be from 1 to 3 or null",
        ),
        (
            _set("betcards.0.currency", "usd"),
            "betcards[0] (code ABC123): currency must be an ISO 4217 code like USD",
        ),
        (
            _set("betcards.0.status", "settled"),
            "betcards[0] (code ABC123): status must be one of draft, open, closed",
        ),
        (
            _set("betcards.0.operator", "nobody"),
            "betcards[0] (code ABC123): operator 'nobody' does not exist",
        ),
        (
            _set("betcards.0.closes_at", "2026-11-24T00:00:00Z"),
            "betcards[0] (code ABC123): closes_at must be after opens_at",
        ),
        (
            _set("events.1.starts_at", "2026-12-01T15:00:00"),
            "events[1] (id 265826): starts_at must be an ISO 8601 time with a zone, "
            "e.g. 2026-12-01T15:00:00Z",
        ),
        (
            _set("events.1.away", 3),
            "events[1] (id 265826): home and away are the same team 3",
        ),
        (
            _set("events.1.markets.0.bets.0.id", 14),
            "events[1] (id 265826).markets[0] (id 7002).bets[0] (id 14): "
            "bet 14 is listed more than once",
        ),
        (
            _set("events.1.markets.0.result", {"winning_bet": 14}),
            "events[1] (id 265826).markets[0] (id 7002): "
            "result winning bet 14 is not a bet of this market",
        ),
        (
            _set("events.1.markets.0.result", {"void": False}),
            'events[1] (id 265826).markets[0] (id 7002).result: must be {"winning_bet": BET_ID}, '
            '{"void": true} or null',
        ),
        (_set("teams.1.active", "yes"), "teams[1] (id 2): active must be true or false"),
        (_set("teams.1.colour", "blue"), "teams[1] (id 2): unknown field colour"),
        (_set("teams.1", {"id": 2}), "teams[1] (id 2): missing name"),
        (_set("events.0", [265825]), "events[0]: must be a JSON object"),
    ],
)
def test_bad_document_changes_nothing_and_names_the_entry(
    tmp_path: Path, change: Any, message: str
) -> None:
    # given
    catalogue_import(sample())
    before = dump_catalogue()
    document = sample()
    document["teams"][0]["name"] = "Renamed"  # a valid change that must not be written either
    change(document)

    # when
    with pytest.raises(CommandError) as error:
        import_file(tmp_path, document)

    # then
    assert str(error.value) == f"nothing imported: {message}"
    assert dump_catalogue() == before


def test_bet_of_another_market_in_the_database_is_refused() -> None:
    EventFactory(id=400_001)  # its market 4000010 owns bets 4000010..4000012
    document = sample()
    document["events"][0]["markets"][0]["bets"][0]["id"] = 4_000_011

    with pytest.raises(CatalogueInvalid) as error:
        catalogue_import(document)

    assert str(error.value) == (
        "events[0] (id 265825).markets[0] (id 7001).bets[0] (id 4000011): "
        "bet 4000011 belongs to market 4000010"
    )
    assert not Team.objects.filter(id=1).exists()


def test_bookmaker_event_of_another_event_is_refused() -> None:
    EventFactory(id=400_002)  # bookmaker event bm-400002
    document = sample()
    document["events"][0]["bookmaker_event"] = "bm-400002"

    with pytest.raises(CatalogueInvalid) as error:
        catalogue_import(document)

    assert str(error.value) == (
        "events[0] (id 265825): bookmaker event bm-400002 belongs to event 400002"
    )


def test_references_resolve_against_the_database() -> None:
    # given: teams and an event that only exist in the database
    event = EventFactory(id=400_003)
    operator = OperatorFactory(name="site")
    document = {
        "events": [
            {"id": 500_001, "home": event.home_team_id, "away": event.away_team_id,
             "starts_at": "2026-12-03T12:00:00Z"},
        ],
        "betcards": [
            {"code": "MIX1", "name": "Mixed", "operator": "site", "currency": "KES", "price": 100,
             "prize": 0, "events": [400_003, 500_001], "opens_at": "2026-11-25T00:00:00Z",
             "status": "draft"},
        ],
    }  # fmt: skip

    # when
    catalogue_import(document)

    # then
    card = Betcard.objects.get(code="MIX1")
    assert (card.operator_id, card.bonus_prizes, card.min_events) == (operator.pk, [], None)
    assert list(card.card_events.values_list("event_id", flat=True)) == [400_003, 500_001]
    assert not BookmakerEvent.objects.filter(event_id=500_001).exists()


def test_settled_betcard_cannot_be_changed_but_reimporting_it_unchanged_is_fine() -> None:
    catalogue_import(sample())
    Betcard.objects.filter(code="ABC123").update(status=BetcardStatus.SETTLED)
    unchanged = sample()
    unchanged["betcards"][0]["status"] = "closed"
    changed = sample()
    changed["betcards"][0]["prize"] = 20000

    summary = catalogue_import(unchanged)
    with pytest.raises(CatalogueInvalid) as error:
        catalogue_import(changed)

    assert summary.betcards == KindCounts(unchanged=1)
    assert str(error.value) == "betcards[0] (code ABC123): is settled and can no longer be changed"
    assert Betcard.objects.get(code="ABC123").status == BetcardStatus.SETTLED


def test_betcard_with_tickets_keeps_its_events() -> None:
    catalogue_import(sample())
    TicketFactory(betcard=Betcard.objects.get(code="ABC123"), picks={265825: 14})
    document = sample()
    document["betcards"][0]["events"] = [265825, 265826]

    with pytest.raises(CatalogueInvalid) as error:
        catalogue_import(document)

    assert str(error.value) == "betcards[0] (code ABC123): has tickets, so its events cannot change"
    assert BetcardEvent.objects.filter(betcard__code="ABC123").count() == 3


def test_invalid_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"teams": [')

    with pytest.raises(CommandError) as error:
        call_command("import_catalogue", str(path))

    assert str(error.value) == (
        f"{path} is not valid JSON: Expecting value: line 1 column 12 (char 11)"
    )


def test_a_large_catalogue_is_written_in_a_bounded_number_of_queries(
    django_assert_max_num_queries: Any,
) -> None:
    teams = [{"id": n, "name": f"Team {n}"} for n in range(1, 2001)]
    events = [
        {"id": 600_000 + n, "home": 2 * n + 1, "away": 2 * n + 2,
         "starts_at": "2026-12-05T12:00:00Z", "bookmaker_event": f"bm-{n}",
         "markets": [{"id": 600_000 + n, "name": "1X2", "bets": [
             {"id": 6_000_000 + 3 * n + k, "name": name, "odds": 2.5}
             for k, name in enumerate("1X2")]}]}
        for n in range(1000)
    ]  # fmt: skip
    document = {"teams": teams, "events": events}

    with django_assert_max_num_queries(40):
        summary = catalogue_import(document)

    assert (summary.events.created, summary.bets.created) == (1000, 3000)


@pytest.mark.django_db(transaction=True)
def test_a_second_import_waits_for_the_first_and_then_finds_its_rows() -> None:
    # given an import whose transaction has not committed yet
    with ThreadPoolExecutor(1) as pool:
        with transaction.atomic():
            catalogue_import(sample())

            # when the same document is imported meanwhile
            second = pool.submit(_import_in_own_connection, sample())
            time.sleep(0.5)

            # then it waits for the first instead of inserting the same rows
            assert not second.done()
        summary = second.result(timeout=30)

    # and, once the first committed, finds everything already there
    assert summary.teams == KindCounts(unchanged=len(SAMPLE["teams"]))
    assert summary.betcards == KindCounts(unchanged=len(SAMPLE["betcards"]))


def _import_in_own_connection(document: dict[str, Any]) -> ImportSummary:
    try:
        return catalogue_import(document)
    finally:
        connection.close()  # this thread's own connection


def test_every_bad_entry_is_reported_at_once(tmp_path: Path) -> None:
    # given two bad teams and a bad event
    document = sample()
    document["teams"][1]["active"] = "yes"
    document["teams"][3]["name"] = ""
    document["events"][0]["starts_at"] = "tomorrow"

    # when
    with pytest.raises(CommandError) as error:
        import_file(tmp_path, document)

    # then each is named, with its first problem, and nothing is written
    assert str(error.value) == (
        "nothing imported: 3 problems:\n"
        "  teams[1] (id 2): active must be true or false\n"
        "  teams[3] (id 4): name must be a non-empty string of at most 200 characters\n"
        "  events[0] (id 265825): starts_at must be an ISO 8601 time with a zone,"
        " e.g. 2026-12-01T15:00:00Z"
    )
    assert not Team.objects.exists()


def test_every_broken_reference_is_reported_once_the_entries_read_well() -> None:
    # given an event with an unknown home team and a card with an unknown event and operator
    document = sample()
    document["events"][1]["home"] = 98
    document["betcards"][0]["events"][0] = 999_999
    document["betcards"][0]["operator"] = "nobody"

    # when
    with pytest.raises(CatalogueInvalid) as error:
        catalogue_import(document)

    # then
    assert error.value.problems == (
        "events[1] (id 265826): home team 98 is not in the catalogue",
        "betcards[0] (code ABC123): event 999999 is not in the catalogue",
        "betcards[0] (code ABC123): operator 'nobody' does not exist",
    )


def test_a_long_list_of_problems_is_cut_after_twenty() -> None:
    document = sample()
    document["teams"] = [{"id": n, "name": ""} for n in range(1, 26)]

    with pytest.raises(CatalogueInvalid) as error:
        catalogue_import(document)

    lines = str(error.value).splitlines()
    assert lines[0] == "25 problems:"
    assert len(lines) == 22
    assert lines[-1] == "  ... and 5 more"
