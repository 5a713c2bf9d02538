# Analyst views for pay later and refunds (contract.md § Pay later, § PAM webhooks), and the
# sales views counting a reservation as sold only once it is paid (status open or closed).
# Every view and column carries a comment; money is integer cents in the row's currency.

import importlib

from django.db import migrations

earlier = importlib.import_module("tickets.migrations.0006_settle_analytics_views")
SOLD = "t.status IN ('open', 'closed')"

PAY_LATER = {
    "comment": "Reservations (pay later) and refunds per operator, per day in the operator's "
    "time zone and per currency: reservations by the day they were made, payments, expiries "
    "and refunds by the day they happened",
    "sql": """
        WITH events AS (
            SELECT t.operator_id, t.currency, t.created_at AS at, 'reserved' AS kind, t.price
            FROM tickets_ticket t WHERE t.reserved_until IS NOT NULL
            UNION ALL
            SELECT t.operator_id, t.currency, t.paid_at, 'paid', t.price
            FROM tickets_ticket t WHERE t.paid_at IS NOT NULL
            UNION ALL
            SELECT t.operator_id, t.currency, t.updated_at, 'expired', t.price
            FROM tickets_ticket t WHERE t.cancel_reason = 'reservation_expired'
            UNION ALL
            SELECT t.operator_id, t.currency, d.created_at, 'refunded', t.price
            FROM tickets_webhookdelivery d JOIN tickets_ticket t ON t.id = d.ticket_id
            WHERE d.action = 'ticket_refund'
        )
        SELECT o.id AS operator_id,
               o.name AS operator_name,
               (e.at AT TIME ZONE o.timezone)::date AS day,
               e.currency,
               count(*) FILTER (WHERE e.kind = 'reserved') AS reservations,
               count(*) FILTER (WHERE e.kind = 'paid') AS reservations_paid,
               count(*) FILTER (WHERE e.kind = 'expired') AS reservations_expired,
               count(*) FILTER (WHERE e.kind = 'refunded') AS refunds,
               coalesce(sum(e.price) FILTER (WHERE e.kind = 'paid'), 0) AS paid_amount,
               coalesce(sum(e.price) FILTER (WHERE e.kind = 'refunded'), 0) AS refunded_amount
        FROM events e
        JOIN operators_operator o ON o.id = e.operator_id
        GROUP BY o.id, o.name, (e.at AT TIME ZONE o.timezone)::date, e.currency
    """,
    "columns": {
        "operator_id": "Operator (operators_operator.id)",
        "operator_name": "Operator name",
        "day": "Day in the operator's time zone",
        "currency": "ISO 4217 currency of the amounts",
        "reservations": "Reservations made that day (POST /be/tickets/reserve)",
        "reservations_paid": "Reservations reported paid that day (POST .../paid)",
        "reservations_expired": "Reservations cancelled that day because their time ran out",
        "refunds": "ticket_refund webhooks queued that day (staff cancelled a paid ticket)",
        "paid_amount": "Sum of prices in cents of the reservations paid that day",
        "refunded_amount": "Sum of prices in cents given back by those refunds",
    },
}


def _sold_only(view, extra_column, extra_comment):
    """The 0006 view with amounts over paid tickets only and a reserved count at the end."""
    sql = view["sql"].replace("t.status <> 'cancelled'", SOLD)
    sql = sql.replace(
        "            FROM tickets_ticket t",
        f"                   , count(*) FILTER (WHERE t.status = 'reserved') AS {extra_column}\n"
        "            FROM tickets_ticket t",
    )
    columns = {**view["columns"], extra_column: extra_comment}
    return {**view, "sql": sql, "columns": columns}


SALES = _sold_only(
    earlier.VIEWS["analytics_sales_per_operator_day"],
    "tickets_reserved",
    "Reservations made that day and not paid yet (not in the amounts)",
)
SALES["columns"]["tickets_sold"] = "Tickets sold that day and paid (open or closed)"
SOURCES = _sold_only(
    earlier.VIEWS["analytics_tickets_per_source"],
    "tickets_reserved",
    "Reservations not paid yet (not in sales_amount)",
)
SOURCES["columns"]["sales_amount"] = "Sum of prices in cents of paid tickets (open or closed)"


def _replace(name, view):
    return earlier._create(name, view).replace("CREATE VIEW", "CREATE OR REPLACE VIEW", 1)


def _restore(name):
    # A column cannot be dropped by CREATE OR REPLACE: drop the view, create 0006's again.
    return f"DROP VIEW {name};\n" + earlier._create(name, earlier.VIEWS[name])


class Migration(migrations.Migration):

    dependencies = [
        ("tickets", "0011_write_receipts"),
    ]

    operations = [
        migrations.RunSQL(
            sql=earlier._create("analytics_pay_later_per_operator_day", PAY_LATER),
            reverse_sql="DROP VIEW analytics_pay_later_per_operator_day",
        ),
        migrations.RunSQL(
            sql=_replace("analytics_sales_per_operator_day", SALES),
            reverse_sql=_restore("analytics_sales_per_operator_day"),
        ),
        migrations.RunSQL(
            sql=_replace("analytics_tickets_per_source", SOURCES),
            reverse_sql=_restore("analytics_tickets_per_source"),
        ),
    ]
