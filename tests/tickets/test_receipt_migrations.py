"""The receipts' migrations (tickets 0013-0015) carry every key both ways: back to the
ticket's own Idempotency-Key columns and `signature:`/`paid:` receipt rows, and forward
again into one receipt per write."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests.factories import TicketFactory
from tickets.models import WriteEndpoint, WriteReceipt

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BEFORE = [("tickets", "0012_pay_later_analytics_views")]
AFTER = [("tickets", "0015_receipt_keys_drop")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _rows(sql: str) -> list[tuple[object, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def test_keys_go_back_to_the_old_columns_and_forward_again():
    # given: a placement with a signature, an Idempotency-Key and a reference, and a paid
    # call with a signature and an Idempotency-Key
    placed, paid = TicketFactory(), TicketFactory(reserved_until=timezone.now())
    later = timezone.now() + dt.timedelta(minutes=11)
    WriteReceipt.objects.create(
        operator_id=placed.operator_id, endpoint=WriteEndpoint.PLACE, fingerprint="f" * 64,
        ticket=placed, response='{"id":"placed"}', created_at=timezone.now(),
        signature="place::abc", signature_expires_at=later,
        idempotency_key="purchase:k-1", reference="R-1",
    )  # fmt: skip
    WriteReceipt.objects.create(
        operator_id=paid.operator_id, endpoint=WriteEndpoint.PAID, fingerprint=paid.id,
        ticket=paid, response='{"id":"paid"}', created_at=timezone.now(),
        signature=f"paid:{paid.id}:def", signature_expires_at=later, idempotency_key="paid:p-1",
    )  # fmt: skip

    try:
        # when: migrated back
        _migrate(BEFORE)

        # then: the ticket has its key again, and each receipt key is a row of its own
        assert _rows(
            "SELECT id, idempotency_key, request_fingerprint, placement_response"
            " FROM tickets_ticket WHERE idempotency_key IS NOT NULL"
        ) == [(placed.id, "k-1", "f" * 64, '{"id":"placed"}')]
        assert sorted(
            _rows("SELECT key, ticket_id, expires_at IS NULL FROM tickets_writereceipt")
        ) == sorted(
            [
                ("signature:place::abc", placed.id, False),
                (f"signature:paid:{paid.id}:def", paid.id, False),
                ("paid:p-1", paid.id, True),
            ]
        )

        # when: migrated forward again
        _migrate(AFTER)
    finally:
        _migrate(AFTER)

    # then: every key is back in a receipt (the reference did not exist before: gone)
    found = {
        (r.ticket_id, r.signature, r.idempotency_key, r.fingerprint)
        for r in WriteReceipt.objects.all()
    }
    assert found == {
        (placed.id, "place::abc", None, "f" * 64),
        (placed.id, None, "purchase:k-1", "f" * 64),
        (paid.id, f"paid:{paid.id}:def", None, paid.id),
        (paid.id, None, "paid:p-1", paid.id),
    }
