"""A card whose Bet Card API answer went stale (a new offer_version), that was deleted, or a
TRUNCATE of all cards, tells the web processes' caches (jackpot.core.change_feed)."""

from django.db import migrations

FORWARD = """
CREATE FUNCTION betcards_betcard_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        PERFORM pg_notify('jackpot_changes', 'card:*');
    ELSE
        PERFORM pg_notify('jackpot_changes', 'card:' || OLD.id);
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION betcards_betcard_notify() IS
    'Tells the engine''s processes that a card''s Bet Card API answer changed (jackpot.core.change_feed)';
CREATE TRIGGER betcards_betcard_offer_changed
    AFTER UPDATE ON betcards_betcard FOR EACH ROW
    WHEN (OLD.offer_version IS DISTINCT FROM NEW.offer_version OR OLD.code IS DISTINCT FROM NEW.code)
    EXECUTE FUNCTION betcards_betcard_notify();
CREATE TRIGGER betcards_betcard_deleted
    AFTER DELETE ON betcards_betcard FOR EACH ROW EXECUTE FUNCTION betcards_betcard_notify();
CREATE TRIGGER betcards_betcard_truncated
    AFTER TRUNCATE ON betcards_betcard FOR EACH STATEMENT EXECUTE FUNCTION betcards_betcard_notify();
"""

BACKWARD = """
DROP TRIGGER betcards_betcard_truncated ON betcards_betcard;
DROP TRIGGER betcards_betcard_deleted ON betcards_betcard;
DROP TRIGGER betcards_betcard_offer_changed ON betcards_betcard;
DROP FUNCTION betcards_betcard_notify();
"""


class Migration(migrations.Migration):
    dependencies = [("betcards", "0002_bet_card_api_offers")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
