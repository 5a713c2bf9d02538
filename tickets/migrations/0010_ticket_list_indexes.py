# The indexes of GET /be/tickets (keyset pages by id, per status, card or player) and of the
# reservation expiry sweep. Built CONCURRENTLY: a million-row tickets table keeps taking
# tickets meanwhile.

import django.db.models.functions.comparison
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('tickets', '0009_pay_later'),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='ticket',
            index=models.Index(models.F('operator'), models.F('status'), models.OrderBy(models.F('id'), descending=True), name='ticket_operator_status_idx'),
        ),
        AddIndexConcurrently(
            model_name='ticket',
            index=models.Index(models.F('operator'), models.F('betcard'), models.F('status'), models.OrderBy(models.F('id'), descending=True), name='ticket_operator_card_idx'),
        ),
        AddIndexConcurrently(
            model_name='ticket',
            index=models.Index(models.F('operator'), django.db.models.functions.comparison.Coalesce(django.db.models.functions.comparison.NullIf('user_id', models.Value('')), 'token'), models.F('status'), models.OrderBy(models.F('id'), descending=True), name='ticket_operator_player_idx'),
        ),
        AddIndexConcurrently(
            model_name='ticket',
            index=models.Index(condition=models.Q(('status', 'reserved')), fields=['reserved_until'], name='ticket_reservation_due_idx'),
        ),
    ]
