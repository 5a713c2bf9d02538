# Analyst views (contract.md § Who uses it: analysts query Postgres directly). Every view
# and column carries a comment; money is integer cents in the row's currency, never summed
# across currencies.

from django.db import migrations

VIEWS = {
    "analytics_sales_per_operator_day": {
        "comment": "Ticket sales and excise per operator, per day in the operator's time zone "
        "and per currency; cancelled tickets are counted apart and excluded from the amounts",
        "sql": """
            SELECT o.id AS operator_id,
                   o.name AS operator_name,
                   (t.created_at AT TIME ZONE o.timezone)::date AS sales_day,
                   t.currency,
                   count(*) FILTER (WHERE t.status <> 'cancelled') AS tickets_sold,
                   count(*) FILTER (WHERE t.status = 'cancelled') AS tickets_cancelled,
                   coalesce(sum(t.price) FILTER (WHERE t.status <> 'cancelled'), 0)
                       AS sales_amount,
                   coalesce(sum(t.stake) FILTER (WHERE t.status <> 'cancelled'), 0)
                       AS stake_amount,
                   coalesce(sum(t.ext_amount) FILTER (WHERE t.status <> 'cancelled'), 0)
                       AS excise_amount
            FROM tickets_ticket t
            JOIN operators_operator o ON o.id = t.operator_id
            GROUP BY o.id, o.name, (t.created_at AT TIME ZONE o.timezone)::date, t.currency
        """,
        "columns": {
            "operator_id": "Operator (operators_operator.id)",
            "operator_name": "Operator name",
            "sales_day": "Day the tickets were created, in the operator's time zone",
            "currency": "ISO 4217 currency of the amounts",
            "tickets_sold": "Tickets sold that day and not cancelled",
            "tickets_cancelled": "Tickets created that day and cancelled since (not in amounts)",
            "sales_amount": "Sum of ticket prices in cents (what players paid)",
            "stake_amount": "Sum of stakes in cents (price after inclusive excise)",
            "excise_amount": "Sum of excise in cents (ext_amount)",
        },
    },
    "analytics_payouts_per_betcard": {
        "comment": "Prizes paid and withholding tax per betcard, from its graded tickets and "
        "the tiers of its latest settlement round",
        "sql": """
            SELECT b.id AS betcard_id,
                   b.code AS betcard_code,
                   b.currency,
                   b.status AS betcard_status,
                   b.settled_at,
                   (SELECT max(s.number) FROM tickets_settlement s WHERE s.betcard_id = b.id)
                       AS settlement_round,
                   count(t.id) FILTER (WHERE t.status = 'closed') AS tickets_graded,
                   count(t.id) FILTER (WHERE t.status = 'closed' AND t.result = 'won')
                       AS tickets_won,
                   count(t.id) FILTER (WHERE t.status = 'closed' AND t.result = 'void')
                       AS tickets_void,
                   count(t.id) FILTER (WHERE t.status = 'cancelled') AS tickets_cancelled,
                   b.prize + coalesce((SELECT sum(p) FROM unnest(b.bonus_prizes) AS p), 0)
                       AS prize_pool,
                   coalesce(sum(t.gross_payout) FILTER (WHERE t.status = 'closed'), 0)
                       AS gross_payout,
                   coalesce(sum(t.wht_amount) FILTER (WHERE t.status = 'closed'), 0)
                       AS wht_amount,
                   coalesce(sum(t.net_payout) FILTER (WHERE t.status = 'closed'), 0)
                       AS net_payout,
                   coalesce(sum(t.price) FILTER (WHERE t.status = 'closed'
                                                 AND t.result = 'void'), 0) AS refunds,
                   (SELECT sum(tier.remainder) FROM tickets_settlementtier tier
                    JOIN tickets_settlement s ON s.id = tier.settlement_id
                    WHERE s.betcard_id = b.id AND s.number = (
                        SELECT max(number) FROM tickets_settlement WHERE betcard_id = b.id))
                       AS unpaid_remainder
            FROM betcards_betcard b
            LEFT JOIN tickets_ticket t ON t.betcard_id = b.id
            GROUP BY b.id
        """,
        "columns": {
            "betcard_id": "Betcard (betcards_betcard.id)",
            "betcard_code": "Betcard code",
            "currency": "ISO 4217 currency of the amounts",
            "betcard_status": "draft, open, closed or settled",
            "settled_at": "When the card was (last) settled; null before",
            "settlement_round": "Latest settlement round: 1, or 2+ after resettlements; null "
            "before settlement",
            "tickets_graded": "Tickets graded (status closed)",
            "tickets_won": "Graded tickets that won a prize share",
            "tickets_void": "Graded tickets voided (every event void) and refunded",
            "tickets_cancelled": "Cancelled tickets (never graded)",
            "prize_pool": "prize + bonus prizes in cents",
            "gross_payout": "Sum of prize shares paid in cents, before WHT",
            "wht_amount": "Sum of withholding tax in cents",
            "net_payout": "Sum of net payouts in cents (gross - WHT)",
            "refunds": "Sum of prices refunded by ticket_void in cents",
            "unpaid_remainder": "Cents of the tiers not paid in the latest round (floor "
            "remainders and tiers without winners); null before settlement",
        },
    },
    "analytics_tickets_per_source": {
        "comment": "Tickets per sales channel (source) and operator, with their state and "
        "sales per currency",
        "sql": """
            SELECT t.source,
                   o.id AS operator_id,
                   o.name AS operator_name,
                   t.currency,
                   count(*) AS tickets,
                   count(*) FILTER (WHERE t.status = 'open') AS tickets_open,
                   count(*) FILTER (WHERE t.status = 'closed') AS tickets_closed,
                   count(*) FILTER (WHERE t.status = 'cancelled') AS tickets_cancelled,
                   count(*) FILTER (WHERE t.result = 'won') AS tickets_won,
                   coalesce(sum(t.price) FILTER (WHERE t.status <> 'cancelled'), 0)
                       AS sales_amount,
                   coalesce(sum(t.gross_payout), 0) AS gross_payout
            FROM tickets_ticket t
            JOIN operators_operator o ON o.id = t.operator_id
            GROUP BY t.source, o.id, o.name, t.currency
        """,
        "columns": {
            "source": "Sales channel, e.g. desktop, mobile, ussd",
            "operator_id": "Operator (operators_operator.id)",
            "operator_name": "Operator name",
            "currency": "ISO 4217 currency of the amounts",
            "tickets": "Tickets created",
            "tickets_open": "Tickets not settled yet",
            "tickets_closed": "Tickets settled (graded)",
            "tickets_cancelled": "Tickets cancelled",
            "tickets_won": "Tickets that won a prize share",
            "sales_amount": "Sum of prices in cents of tickets not cancelled",
            "gross_payout": "Sum of prize shares in cents, before WHT",
        },
    },
}


def _literal(text):
    return "'" + text.replace("'", "''") + "'"


def _create(name, view):
    statements = [
        f"CREATE VIEW {name} AS {view['sql']}",
        f"COMMENT ON VIEW {name} IS {_literal(view['comment'])}",
    ]
    statements += [
        f"COMMENT ON COLUMN {name}.{column} IS {_literal(comment)}"
        for column, comment in view["columns"].items()
    ]
    return ";\n".join(statements)


class Migration(migrations.Migration):

    dependencies = [
        ("tickets", "0005_settle_round_results"),
        ("operators", "0001_initial"),
        ("betcards", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(sql=_create(name, view), reverse_sql=f"DROP VIEW {name}")
        for name, view in VIEWS.items()
    ]
