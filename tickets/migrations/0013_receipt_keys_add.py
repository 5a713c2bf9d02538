"""One receipt per write (issue 25), step 1 of 3: the new columns beside the old ones.

The receipt's `key` becomes nullable here, so that step 3 can drop it and its reverse can
add it back before step 2's reverse fills it."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("operators", "0004_limits"),
        ("tickets", "0012_pay_later_analytics_views"),
    ]

    operations = [
        migrations.AddField(
            model_name="ticket",
            name="reference",
            field=models.CharField(blank=True, db_comment="The operator's own id of this purchase (`reference` of the request), unique per operator; null when none was sent", max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="writereceipt",
            name="idempotency_key",
            field=models.CharField(blank=True, db_comment="`purchase:<Idempotency-Key>` (placement, reservation) or `paid:<Idempotency-Key>`; null when none was sent", max_length=270, null=True),
        ),
        migrations.AddField(
            model_name="writereceipt",
            name="reference",
            field=models.CharField(blank=True, db_comment="The purchase's `reference`; null when none was sent", max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="writereceipt",
            name="signature",
            field=models.CharField(blank=True, db_comment="`<endpoint>:<target>:<signature hex>` of the signed request, until signature_expires_at; then null", max_length=300, null=True),
        ),
        migrations.AddField(
            model_name="writereceipt",
            name="signature_expires_at",
            field=models.DateTimeField(blank=True, db_comment="After this a replay is refused by its timestamp anyway: the signature is forgotten (the row too, when it has no other key)", null=True),
        ),
        migrations.AlterField(
            model_name="writereceipt",
            name="key",
            field=models.CharField(blank=True, null=True, db_comment="`signature:<hex>` of a signed request, or `paid:<Idempotency-Key>`", max_length=300),
        ),
    ]
