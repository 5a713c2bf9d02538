"""Demo data for trying the API by hand (`manage.py seed_demo`).

Builds a 13-event catalogue with open betcard DEMO13 through `catalogue_import`, the demo
operator through the operator services, and a signed `POST /be/tickets` request for it
(contract.md § POST /be/tickets, fields in the contract's order). Ids and kick-off times are
fixed for a given day, so seeding again the same day changes only the betcard's opening time.
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
from dataclasses import dataclass
from decimal import Decimal

from betcards.catalogue.importing import ImportSummary, catalogue_import
from betcards.models import Betcard, Market
from operators.models import ExciseType, Operator
from operators.services import operator_create, operator_rotate_secret, operator_update
from operators.signing import signature

DEMO_OPERATOR = "demo"
DEMO_BETCARD = "DEMO13"
_TEAMS = (
    "Arsenal", "Chelsea", "Everton", "Fulham", "Brentford", "Burnley", "Leeds", "Wolves",
    "Gor Mahia", "AFC Leopards", "Tusker", "Bandari", "Kakamega Homeboyz", "Ulinzi Stars",
    "Simba", "Young Africans", "Azam", "Al Ahly", "Zamalek", "Pyramids", "Orlando Pirates",
    "Kaizer Chiefs", "Mamelodi Sundowns", "Enyimba", "Rivers United", "Asante Kotoko",
)  # fmt: skip
_FIRST_TEAM_ID = 990_001
_FIRST_EVENT_ID = 990_101
_ODDS = ((2.10, 3.20, 3.50), (1.85, 3.40, 4.20), (2.55, 3.10, 2.70), (3.00, 3.25, 2.30))


@dataclass(frozen=True, kw_only=True)
class SignedRequest:
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


def demo_catalogue(*, now: dt.datetime) -> dict[str, object]:
    """The demo document: 26 teams, 13 events from 3 days after `now`'s date, card DEMO13."""
    first_kick_off = dt.datetime.combine(now.date(), dt.time(12), tzinfo=dt.UTC)
    first_kick_off += dt.timedelta(days=3)
    events = []
    for index in range(13):
        event_id = _FIRST_EVENT_ID + index
        odds = _ODDS[index % len(_ODDS)]
        starts_at = first_kick_off + dt.timedelta(hours=2 * index)
        bets = [
            {"id": event_id * 10 + offset, "name": name, "odds": odds[offset]}
            for offset, name in enumerate(("1", "X", "2"))
        ]
        events.append(
            {
                "id": event_id,
                "home": _FIRST_TEAM_ID + 2 * index,
                "away": _FIRST_TEAM_ID + 2 * index + 1,
                "starts_at": starts_at.isoformat(),
                "bookmaker_event": f"demo-bm-{event_id}",
                "markets": [{"id": event_id * 10, "name": "1X2", "bets": bets}],
            }
        )
    opens_at = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return {
        "teams": [{"id": _FIRST_TEAM_ID + n, "name": name} for n, name in enumerate(_TEAMS)],
        "events": events,
        "betcards": [
            {
                "code": DEMO_BETCARD,
                "name": "Demo 13-event jackpot",
                "operator": None,
                "currency": "USD",
                "price": 500,
                "prize": 10_000_000,
                "bonus_prizes": [500_000, 100_000, 25_000],
                "min_events": None,
                "events": [event["id"] for event in events],
                "opens_at": (opens_at - dt.timedelta(hours=1)).isoformat(),
                "status": "open",
            }
        ],
    }


def demo_seed(
    *, now: dt.datetime, webhook_url: str | None, rotate: bool = False
) -> tuple[Operator, str, ImportSummary]:
    """Create or refresh the demo operator and catalogue; returns the operator's secret.

    An existing demo operator keeps its settings (its webhook URL changes only when one is
    given) and its secret key, so that curls printed earlier keep working; `rotate` issues
    it a new one (the old one void at once).
    """
    operator = Operator.objects.filter(name=DEMO_OPERATOR).first()
    if operator is None:
        operator, secret = operator_create(
            name=DEMO_OPERATOR,
            webhook_url=webhook_url or "",
            timezone="Africa/Nairobi",
            ext_percent=Decimal("12.5"),
            ext_type=ExciseType.INCLUSIVE,
            wht_percent=Decimal(10),
            currencies=[],
            aff_comm_percent=None,
        )
    else:
        if webhook_url is not None and webhook_url != operator.webhook_url:
            operator_update(operator=operator, webhook_url=webhook_url)
        secret = (
            operator_rotate_secret(
                operator=operator, rotated_by="command:seed_demo", grace=dt.timedelta(0)
            )
            if rotate
            else operator.secret_key
        )
    summary = catalogue_import(demo_catalogue(now=now))
    return operator, secret, summary


def demo_ticket_request(
    *, operator: Operator, secret: str, base_url: str, timestamp: int
) -> SignedRequest:
    """A signed POST /be/tickets for DEMO13 backing the home side of every event."""
    card = Betcard.objects.get(code=DEMO_BETCARD)
    event_ids = list(card.card_events.order_by("position").values_list("event_id", flat=True))
    markets = Market.objects.filter(event_id__in=event_ids).prefetch_related("bets")
    home_bets = {
        market.event_id: min(market.bets.all(), key=lambda bet: bet.id) for market in markets
    }
    body = {
        "operator": operator.name,
        "token": "demo-player-1",
        "psp": "mobile",
        "price": card.price,
        "currency": card.currency,
        "atag": None,
        "rtag": None,
        "source": "desktop",
        "type": "jackpot",
        "odds_diff": 5,
        "events": [
            {"id": event_id, "bet": home_bets[event_id].id, "odds": float(home_bets[event_id].odds)}
            for event_id in event_ids
        ],
        "betcard_code": card.code,
        "prize": card.prize,
        "bonus_prizes": card.bonus_prizes,
    }
    compact = json.dumps(body, separators=(",", ":")).encode()
    stamp = str(timestamp)
    return SignedRequest(
        url=f"{base_url.rstrip('/')}/be/tickets",
        headers=(
            ("Content-Type", "application/json"),
            ("timestamp", stamp),
            ("operator-name", operator.name),
            ("signature", signature(secret, stamp, compact)),
        ),
        body=compact,
    )


def curl_command(request: SignedRequest) -> str:
    """The request as a shell command, one option per line, values single-quoted."""
    lines = [f"curl -sS -X POST {shlex.quote(request.url)}"]
    lines += [f"  -H {shlex.quote(f'{name}: {value}')}" for name, value in request.headers]
    lines.append(f"  --data-raw {shlex.quote(request.body.decode())}")
    return " \\\n".join(lines)
