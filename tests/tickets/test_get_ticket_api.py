"""GET /be/tickets/{identifier} (contract.md § GET /be/tickets/{identifier})."""

from __future__ import annotations

import pytest

from tests.factories import OperatorFactory
from tests.support.api import signed_get, signed_post
from tests.support.sample import sample_request, sample_setup
from tickets.models import Selection

pytestmark = pytest.mark.django_db


@pytest.fixture
def placed(client):
    sample = sample_setup()
    body = signed_post(client, sample.operator, "/be/tickets", sample_request()).json()
    return sample, body


@pytest.mark.parametrize("field", ["id", "code"])
def test_ticket_is_found_by_id_or_code_with_its_events(client, placed, field):
    # given
    sample, created = placed

    # when
    response = signed_get(client, sample.operator, f"/be/tickets/{created[field]}")

    # then
    assert response.status_code == 200
    body = response.json()
    events = body.pop("events")
    assert body == created
    assert events[0] == {
        "id": 265825, "bet": 14, "odds": 2.55, "odds_accepted": 2.55, "result": "pending",
    }  # fmt: skip
    assert [(event["id"], event["bet"]) for event in events] == [
        (265825, 14), (265826, 34), (265827, 22), (265828, 83), (265829, 66), (265830, 25),
    ]  # fmt: skip


def test_selection_result_is_shown_once_known(client, placed):
    sample, created = placed
    Selection.objects.filter(ticket_id=created["id"], event_id=265826).update(result="won")

    events = signed_get(client, sample.operator, f"/be/tickets/{created['id']}").json()["events"]

    assert [event["result"] for event in events][:2] == ["pending", "won"]


def test_another_operators_ticket_is_not_found_like_an_unknown_one(client, placed):
    # given
    _, created = placed
    rival = OperatorFactory(name="rival")

    # when
    theirs = signed_get(client, rival, f"/be/tickets/{created['code']}")
    unknown = signed_get(client, rival, "/be/tickets/ZZZZZZ")

    # then
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json() == {
        "code": 102,
        "message": f"Ticket with `{created['code']}` identifier is not found",
    }
    assert unknown.json() == {
        "code": 102,
        "message": "Ticket with `ZZZZZZ` identifier is not found",
    }


@pytest.mark.parametrize(
    "identifier", ["abc", "0123456789abcdef01234567x", "abcdef", "%F0%9F%8E%B0"]
)
def test_identifiers_of_neither_shape_are_not_found(client, placed, identifier):
    sample, _ = placed

    response = signed_get(client, sample.operator, f"/be/tickets/{identifier}")

    assert response.status_code == 404
    assert response.json()["code"] == 102


def test_get_reads_in_constant_queries(client, placed, django_assert_num_queries):
    sample, created = placed

    # operator, ticket with betcard, selections
    with django_assert_num_queries(3):
        signed_get(client, sample.operator, f"/be/tickets/{created['id']}")
