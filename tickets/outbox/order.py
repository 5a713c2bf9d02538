"""A ticket's webhooks go out in the order they were queued: the rule's SQL (docs/webhooks.md
§ Ticket order), shared by the sweep (`tickets.outbox.sweep`) and the attempt statements
(`tickets.delivery.statements`).

Both fragments find a ticket's rows by ticket and test their status on the rows found
(`= ANY`, `FILTER`), never as an index condition: after a burst of new pending rows (a
settled card, a PAM outage) the statistics still say almost none are pending, and the
planner would look for them by scanning every pending row, once per row asked about (the
sweep took 8 s for 500 rows among 10,000 pending, 30 ms this way).

Each returns a template for `jackpot.core.sql.sql_names` with the alias `e` (pass
`e=WebhookDelivery`) and the parameter `%(pending)s`; `ticket` and `row_id` are the SQL of
the row asked about.
"""

from __future__ import annotations


def waits_sql(*, ticket: str, row_id: str) -> str:
    """True when an earlier webhook of the ticket is still pending: the row must wait."""
    return (
        "%(pending)s = ANY (SELECT e.{e.status} FROM {e} e"  # noqa: S608 - no values
        f" WHERE e.{{e.ticket}} = {ticket} AND e.{{e.id}} < {row_id})"
    )


def next_pending_sql(*, ticket: str, row_id: str) -> str:
    """The ticket's next pending webhook after the row (it waited for this one), or NULL."""
    return (
        "SELECT min(e.{e.id}) FILTER (WHERE e.{e.status} = %(pending)s) FROM {e} e"  # noqa: S608 - no values
        f" WHERE e.{{e.ticket}} = {ticket} AND e.{{e.id}} > {row_id}"
    )
