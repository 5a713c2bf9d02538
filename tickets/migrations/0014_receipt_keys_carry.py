"""One receipt per write (issue 25), step 2 of 3: the keys carried into the new columns.

Forward: a signature receipt's `signature:<rest>` becomes `signature` (with its expiry), a
paid one's `paid:<key>` its `idempotency_key`; each ticket's own Idempotency-Key (with its
body's fingerprint and first answer) becomes a receipt of its own, `purchase:<key>`.
Backward: the reverse, a receipt holding two keys split into two rows; a reference, which
did not exist before, is dropped with its column by step 1's reverse."""

from django.db import migrations


def _tables(apps):
    return (
        apps.get_model("tickets", "WriteReceipt")._meta.db_table,
        apps.get_model("tickets", "Ticket")._meta.db_table,
    )


def carry_forward(apps, schema_editor):
    receipt, ticket = _tables(apps)
    run = schema_editor.execute
    run(
        f"UPDATE {receipt} SET signature = substr(key, 11), signature_expires_at = expires_at"
        " WHERE key LIKE 'signature:%%'"
    )
    run(f"UPDATE {receipt} SET idempotency_key = key WHERE key LIKE 'paid:%%'")
    run(
        f"INSERT INTO {receipt} (operator_id, endpoint, fingerprint, ticket_id, response,"
        " created_at, idempotency_key)"
        " SELECT operator_id, CASE WHEN reserved_until IS NULL THEN 'place' ELSE 'reserve' END,"
        " request_fingerprint, id, coalesce(placement_response, ''), created_at,"
        " 'purchase:' || idempotency_key"
        f" FROM {ticket} WHERE idempotency_key IS NOT NULL"
    )


def carry_back(apps, schema_editor):
    receipt, ticket = _tables(apps)
    run = schema_editor.execute
    run(
        f"UPDATE {ticket} t SET idempotency_key = substr(r.idempotency_key, 10),"
        " request_fingerprint = r.fingerprint, placement_response = nullif(r.response, '')"
        f" FROM {receipt} r WHERE r.ticket_id = t.id AND r.idempotency_key LIKE 'purchase:%%'"
    )
    run(
        f"INSERT INTO {receipt} (operator_id, key, endpoint, fingerprint, ticket_id, response,"
        " created_at)"
        " SELECT operator_id, idempotency_key, endpoint, fingerprint, ticket_id, response,"
        f" created_at FROM {receipt}"
        " WHERE signature IS NOT NULL AND idempotency_key LIKE 'paid:%%'"
    )
    run(
        f"UPDATE {receipt} SET key = 'signature:' || signature,"
        " expires_at = signature_expires_at WHERE signature IS NOT NULL"
    )
    run(
        f"UPDATE {receipt} SET key = idempotency_key"
        " WHERE key IS NULL AND idempotency_key LIKE 'paid:%%'"
    )
    run(f"DELETE FROM {receipt} WHERE key IS NULL")


class Migration(migrations.Migration):
    dependencies = [("tickets", "0013_receipt_keys_add")]

    operations = [migrations.RunPython(carry_forward, carry_back)]
