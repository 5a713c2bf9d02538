"""What an operator's tickets add to its back-office page: today's top players against the
daily spend limit (contract.md § Limits).

Extends `operators.admin.OperatorAdmin` (and takes its registration), as
`tickets/admin/betcard_sales.py` does for betcards, so that the operator's page can read
tickets while the arrows still point tickets → operators.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from jackpot.admin_support import format_cents
from operators.admin import OperatorAdmin
from operators.models import Operator
from tickets.figures import PlayerSpend, top_players_today

TOP_PLAYERS = 10


class OperatorPlayersAdmin(OperatorAdmin):
    readonly_fields = [*OperatorAdmin.readonly_fields, "top_players_today"]
    fieldsets = [
        *OperatorAdmin.fieldsets[:-1],
        ("Players today", {"fields": ["top_players_today"]}),
        OperatorAdmin.fieldsets[-1],
    ]

    @admin.display(description="Top players today (operator's time zone)")
    def top_players_today(self, operator: Operator) -> SafeString | str:
        players = top_players_today(operator=operator, count=TOP_PLAYERS)
        if not players:
            return "No tickets today."
        limit = operator.max_daily_spend
        return format_html(
            "<table><thead><tr><th>player (token)</th><th>tickets</th><th>spent</th>"
            "<th>of the daily limit</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (_row(player, limit) for player in players),
            ),
        )


def _row(player: PlayerSpend, limit: int | None) -> tuple[Any, ...]:
    share = "no limit" if not limit else f"{100 * player.spent / limit:.0f} %"
    return (player.token, player.tickets, format_cents(player.spent, ""), share)


admin.site.unregister(Operator)
admin.site.register(Operator, OperatorPlayersAdmin)
