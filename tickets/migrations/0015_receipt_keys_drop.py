"""One receipt per write (issue 25), step 3 of 3: the old columns and constraints go, the
new ones are unique per operator."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tickets", "0014_receipt_keys_carry")]

    operations = [
        migrations.AlterModelTableComment(
            name="writereceipt",
            table_comment="One row per write: its first answer, found again by the request's signature, Idempotency-Key or reference; a repeat is answered with it and creates nothing",
        ),
        migrations.RemoveConstraint(
            model_name="ticket",
            name="ticket_idempotency_key_once_per_operator",
        ),
        migrations.RemoveConstraint(
            model_name="writereceipt",
            name="write_receipt_once",
        ),
        migrations.RemoveIndex(
            model_name="writereceipt",
            name="write_receipt_expiry_idx",
        ),
        migrations.RemoveField(model_name="ticket", name="idempotency_key"),
        migrations.RemoveField(model_name="ticket", name="placement_response"),
        migrations.RemoveField(model_name="ticket", name="request_fingerprint"),
        migrations.RemoveField(model_name="writereceipt", name="expires_at"),
        migrations.RemoveField(model_name="writereceipt", name="key"),
        migrations.AlterField(
            model_name="writereceipt",
            name="fingerprint",
            field=models.CharField(blank=True, db_comment="What was asked (SHA-256 of the body; paid: the ticket identifier): a key repeated with another one is a 409", max_length=64),
        ),
        migrations.AlterField(
            model_name="writereceipt",
            name="response",
            field=models.TextField(db_comment="Exact JSON body of the first 200 answer (empty for keys carried from before receipts kept it: the ticket is rendered again)"),
        ),
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(condition=models.Q(("reference__isnull", False)), fields=["operator", "reference"], name="ticket_operator_reference_idx"),
        ),
        migrations.AddIndex(
            model_name="writereceipt",
            index=models.Index(condition=models.Q(("signature_expires_at__isnull", False)), fields=["signature_expires_at"], name="write_receipt_expiry_idx"),
        ),
        migrations.AddConstraint(
            model_name="writereceipt",
            constraint=models.UniqueConstraint(condition=models.Q(("signature__isnull", False)), fields=("operator", "signature"), name="write_receipt_signature_once"),
        ),
        migrations.AddConstraint(
            model_name="writereceipt",
            constraint=models.UniqueConstraint(condition=models.Q(("idempotency_key__isnull", False)), fields=("operator", "idempotency_key"), name="write_receipt_idempotency_key_once"),
        ),
        migrations.AddConstraint(
            model_name="writereceipt",
            constraint=models.UniqueConstraint(condition=models.Q(("reference__isnull", False)), fields=("operator", "reference"), name="write_receipt_reference_once"),
        ),
    ]
