# Settlement writes each selection's result once: with free room left in every page, that
# update is HOT (heap-only: `result` is not indexed), so none of the table's six indexes is
# touched for the 13 selections of each ticket. See docs/settlement.md § Performance.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("tickets", "0007_admin_list_indexes"),
    ]

    operations = [
        migrations.RunSQL(
            sql="ALTER TABLE tickets_selection SET (fillfactor = 70)",
            reverse_sql="ALTER TABLE tickets_selection RESET (fillfactor)",
        ),
    ]
