"""Every committed change to operators tells the web processes' caches (jackpot.core.change_feed):
a statement-level trigger, so the ORM, raw SQL and TRUNCATE alike."""

from django.db import migrations

FORWARD = """
CREATE FUNCTION operators_operator_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('jackpot_changes', 'operator:*');
    RETURN NULL;
END $$;
COMMENT ON FUNCTION operators_operator_notify() IS
    'Tells the engine''s processes that operators changed (jackpot.core.change_feed)';
CREATE TRIGGER operators_operator_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON operators_operator
    FOR EACH STATEMENT EXECUTE FUNCTION operators_operator_notify();
"""

BACKWARD = """
DROP TRIGGER operators_operator_changed ON operators_operator;
DROP FUNCTION operators_operator_notify();
"""


class Migration(migrations.Migration):
    dependencies = [("operators", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
