# Written for the placement API (idempotent replays store the first answer).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("tickets", "0003_admin_staff_groups"),
    ]

    operations = [
        migrations.AddField(
            model_name="ticket",
            name="placement_response",
            field=models.TextField(
                blank=True,
                db_comment="Exact JSON body of the first 200 answer, replayed for a repeated Idempotency-Key; null when the request had no key",
                null=True,
            ),
        ),
    ]
