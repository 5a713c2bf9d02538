"""GET /bc/calculator/finance-details (contract.md § Bet Card API): what a ticket costs and
what a sole winner of each tier takes home, by the operator's current tax settings."""

from __future__ import annotations

from decimal import Decimal

import pytest

from operators.models import ExciseType
from tests.factories import BetcardFactory, OperatorFactory
from tests.support.api import signed_get
from tests.support.sample import sample_setup

pytestmark = pytest.mark.django_db

PATH = "/bc/calculator/finance-details"


@pytest.fixture
def sample():
    return sample_setup()


def test_stake_and_excise_of_a_price(client, sample):
    response = signed_get(client, sample.operator, f"{PATH}?price=500")

    assert response.status_code == 200
    assert response.json() == {
        "price": 500,
        "stake": 444,
        "ext": 12.5,
        "ext_amount": 56,
        "ext_type": "inclusive",
        "wht": 10.0,
    }


def test_exclusive_excise_is_charged_on_top(client):
    operator = OperatorFactory(ext_type=ExciseType.EXCLUSIVE, ext_percent=Decimal("7.5"))

    body = signed_get(client, operator, f"{PATH}?price=999").json()

    assert (body["stake"], body["ext_amount"], body["ext_type"]) == (999, 75, "exclusive")


def test_with_a_card_each_tier_says_what_a_sole_winner_takes_home(client, sample):
    # the card's price (500, stake 444) counts, not the price asked about
    body = signed_get(client, sample.operator, f"{PATH}?price=1000&betcard_code=ABC123").json()

    assert (body["price"], body["stake"], body["currency"]) == (1000, 889, "USD")
    assert body["tiers"] == [
        # WHT = round((gross - stake) x 10 %), half-up
        {"misses": 0, "prize": 10_000, "gross_payout": 10_000, "wht_amount": 956,
         "net_payout": 9_044},
        {"misses": 1, "prize": 2_000, "gross_payout": 2_000, "wht_amount": 156,
         "net_payout": 1_844},
        {"misses": 2, "prize": 1_500, "gross_payout": 1_500, "wht_amount": 106,
         "net_payout": 1_394},
        {"misses": 3, "prize": 1_000, "gross_payout": 1_000, "wht_amount": 56,
         "net_payout": 944},
    ]  # fmt: skip


def test_a_tier_below_the_stake_pays_no_wht(client, sample):
    BetcardFactory(code="SMALL", price=500, prize=400, bonus_prizes=[], events=1)

    body = signed_get(client, sample.operator, f"{PATH}?price=500&betcard_code=SMALL").json()

    assert body["tiers"] == [
        {"misses": 0, "prize": 400, "gross_payout": 400, "wht_amount": 0, "net_payout": 400}
    ]


def test_settings_changed_in_the_admin_apply_at_once(client, sample):
    sample.operator.wht_percent = Decimal(20)
    sample.operator.save()

    body = signed_get(client, sample.operator, f"{PATH}?price=500&betcard_code=ABC123").json()

    assert body["wht"] == 20.0
    assert body["tiers"][0]["wht_amount"] == 1_911  # round(9556 x 0.2)


@pytest.mark.parametrize("restricted", [False, True])
def test_unknown_or_not_offered_card_is_404_119(client, sample, restricted):
    code: str = "NOPE"
    if restricted:
        code = BetcardFactory.create(events=1, operator=OperatorFactory()).code

    response = signed_get(client, sample.operator, f"{PATH}?price=500&betcard_code={code}")

    assert response.status_code == 404
    assert response.json() == {"code": 119, "message": f"Betcard with `{code}` code is not found"}


@pytest.mark.parametrize(
    ("query", "bad"),
    [
        ("", ["price"]),
        ("price=", ["price"]),
        ("price=0", ["price"]),
        ("price=-5", ["price"]),
        ("price=5.5", ["price"]),
        ("price=abc", ["price"]),
        ("price=10000000000000000", ["price"]),
        ("price=500&betcard_code=", ["betcard_code"]),
        ("price=500&betcard_code=" + "X" * 33, ["betcard_code"]),
        ("price=x&betcard_code=", ["price", "betcard_code"]),
    ],
)
def test_bad_parameters_are_422_naming_each(client, sample, query, bad):
    response = signed_get(client, sample.operator, f"{PATH}?{query}")

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [
        ["query", name] for name in bad
    ]
