"""What a betcard's tickets add to its back-office page: live sales figures, settlement.

Extends `betcards.admin.betcards.BetcardAdmin` (and takes its registration), so that the
betcard page can read ticket figures (`tickets.figures`, one query per page) and settle
(`tickets.settlement`) while the arrows still point tickets → betcards. Settling and
resettling are confirmed first, checked at once (a refusal shows its message) and then run
by a worker (`tickets.tasks`): a million tickets take minutes, far longer than a web request
may. Every action is written to the admin log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe

from betcards.admin.betcards import BetcardAdmin
from betcards.models import Betcard, BetcardStatus
from jackpot.admin_support import (
    Hidden,
    action_fields,
    bulk_action,
    confirmation_page,
    format_cents,
    is_confirmed,
    log_staff_action,
    object_action,
)
from jackpot.core.errors import ContractError
from tickets.figures import NO_FIGURES, BetcardFigures, betcard_figures
from tickets.settlement.rounds import betcard_resettle_check, betcard_settle_check
from tickets.tasks import betcard_resettle_task, betcard_settle_task

if TYPE_CHECKING:
    from celery import Task

log = structlog.get_logger(__name__)

WATCH_HINT = (
    "It runs in the background (minutes for a large card): reload this card's page to "
    "follow it under Settlement rounds (running, then finished)."
)
FIGURE_FIELDS = [
    "status",
    "tickets_sold",
    "tickets_reserved",
    "tickets_cancelled",
    "total_price",
    "total_stake",
    "excise",
    "settlement_rounds",
]


def figures_of(card: Betcard) -> BetcardFigures:
    cached: BetcardFigures | None = getattr(card, "_figures", None)
    if cached is None:
        cached = betcard_figures(betcard_ids=[card.pk]).get(card.pk, NO_FIGURES)
        card._figures = cached  # type: ignore[attr-defined]
    return cached


class BetcardChangeList(ChangeList):
    """Adds the page's sales figures with one grouped query after paging."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        figures = betcard_figures(betcard_ids=[card.pk for card in self.result_list])
        for card in self.result_list:
            card._figures = figures.get(card.pk, NO_FIGURES)


class BetcardSalesAdmin(BetcardAdmin):
    list_display = [
        "code",
        "name",
        "status",
        "price_display",
        "event_count",
        "tickets_sold",
        "total_price",
        "total_stake",
        "excise",
        "opens_at",
    ]
    actions = [*BetcardAdmin.actions, "settle_betcards", "resettle_betcard"]
    change_form_template = "admin/tickets/betcard/change_form.html"
    readonly_fields = FIGURE_FIELDS
    status_fieldset = ("Live figures", FIGURE_FIELDS)
    tool_views = (*BetcardAdmin.tool_views, "settle", "resettle")

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return BetcardChangeList

    def ticket_count(self, card: Betcard) -> int:
        # `card` is the form's own instance, so its figures are computed once per page.
        figures = figures_of(card)
        return figures.tickets_sold + figures.tickets_reserved + figures.tickets_cancelled

    # -------------------------------------------------------------------- figures
    @admin.display(description="Tickets sold")
    def tickets_sold(self, card: Betcard) -> int:
        return figures_of(card).tickets_sold

    @admin.display(description="Reserved, not paid yet")
    def tickets_reserved(self, card: Betcard) -> int:
        return figures_of(card).tickets_reserved

    @admin.display(description="Tickets cancelled")
    def tickets_cancelled(self, card: Betcard) -> int:
        return figures_of(card).tickets_cancelled

    @admin.display(description="Total price")
    def total_price(self, card: Betcard) -> str:
        return format_cents(figures_of(card).total_price, card.currency)

    @admin.display(description="Total stake")
    def total_stake(self, card: Betcard) -> str:
        return format_cents(figures_of(card).total_stake, card.currency)

    @admin.display(description="Excise collected")
    def excise(self, card: Betcard) -> str:
        return format_cents(figures_of(card).excise, card.currency)

    @admin.display(description="Settlement rounds")
    def settlement_rounds(self, card: Betcard) -> SafeString | str:
        rounds = list(card.settlements.select_related("requested_by").order_by("number"))
        if not rounds:
            return "not settled"
        return format_html_join(
            mark_safe("<br>"),
            "#{} started {} — {}{}{}",
            (
                (
                    r.number,
                    f"{r.started_at:%Y-%m-%d %H:%M}",
                    f"finished {r.finished_at:%Y-%m-%d %H:%M}" if r.finished_at else "running",
                    f", by {r.requested_by}" if r.requested_by else "",
                    f", reason: {r.reason}" if r.reason else "",
                )
                for r in rounds
            ),
        )

    # -------------------------------------------------------------------- settlement
    def settle_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        card = self.card_for_change(request, object_id)  # checks the permission
        return object_action(
            request,
            card,
            allowed=True,
            ask=self._settle_question,
            run=self._settle,
            back=reverse("admin:betcards_betcard_change", args=[card.pk]),
        )

    def resettle_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        card = self.card_for_change(request, object_id)
        if not is_confirmed(request):
            return self._resettle_question(request, card, hidden={})
        self._resettle(request, card)
        return self.back_to(card)

    @admin.action(description="Settle selected betcards", permissions=["change"])
    def settle_betcards(
        self, request: HttpRequest, queryset: QuerySet[Betcard]
    ) -> HttpResponse | None:
        return bulk_action(request, list(queryset), ask=self._settle_question, run=self._settle)

    @admin.action(description="Resettle a betcard with a reason", permissions=["change"])
    def resettle_betcard(
        self, request: HttpRequest, queryset: QuerySet[Betcard]
    ) -> HttpResponse | None:
        cards = list(queryset[:2])
        if len(cards) != 1:
            self.message_user(request, "Resettle one betcard at a time.", messages.ERROR)
            return None
        if not is_confirmed(request):
            return self._resettle_question(request, cards[0], hidden=action_fields(request))
        self._resettle(request, cards[0])
        return None

    def _settle_question(
        self, request: HttpRequest, cards: list[Betcard], *, hidden: Hidden
    ) -> HttpResponse:
        return confirmation_page(
            request,
            model_admin=self,
            title="Settle betcards",
            question=(
                "Grade every open ticket of these betcards from the entered results, pay the "
                "prize tiers and send each ticket's result webhook? A card with an event "
                "lacking a result is refused and nothing changes; a settled card is left as is. "
                "The settlement runs in the background."
            ),
            objects=cards,
            submit_label="Yes, settle",
            hidden=hidden,
        )

    def _resettle_question(
        self, request: HttpRequest, card: Betcard, *, hidden: Hidden
    ) -> HttpResponse:
        return confirmation_page(
            request,
            model_admin=self,
            title=f"Resettle betcard {card.code}",
            question=(
                f"Regrade {card.code} from its results as they stand now (correct them on the "
                "markets first)? Each ticket whose outcome changes gets ticket_rollback, then "
                "its new result webhook. The resettlement runs in the background."
            ),
            objects=[card],
            submit_label="Yes, resettle",
            hidden=hidden,
            reason_label="Reason (kept with the round and the result audit)",
            checkbox_label=(
                "Staff override: also regrade tickets already closed (ticket_closed sent)"
            ),
        )

    def _settle(self, request: HttpRequest, cards: list[Betcard]) -> None:
        for card in cards:
            try:
                betcard_settle_check(betcard=card)
            except ContractError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                continue
            if card.status == BetcardStatus.SETTLED:
                self.message_user(request, f"{card.code} was already settled.", messages.INFO)
                continue
            if not self._queue(request, card, "", betcard_settle_task, card.pk):
                continue
            log_staff_action(request, card, "Settlement queued")
            self.message_user(
                request, f"{card.code}: settlement queued. {WATCH_HINT}", messages.SUCCESS
            )

    def _resettle(self, request: HttpRequest, card: Betcard) -> None:
        reason = request.POST.get("reason", "").strip()
        override = request.POST.get("checked") == "on"
        try:
            betcard_resettle_check(betcard=card, reason=reason)
        except ContractError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        options = " --resettle --reason ..." + (" --override-closed" if override else "")
        if not self._queue(
            request,
            card,
            options,
            betcard_resettle_task,
            *(card.pk, reason, request.user.pk, override),
        ):
            return
        note = " (override: closed tickets regraded)" if override else ""
        log_staff_action(request, card, f"Resettlement queued{note}, reason: {reason}")
        self.message_user(
            request, f"{card.code}: resettlement queued{note}. {WATCH_HINT}", messages.SUCCESS
        )

    def _queue(
        self,
        request: HttpRequest,
        card: Betcard,
        command_options: str,
        task: Task[Any, Any],
        *args: Any,
    ) -> bool:
        """Publish the task once the request's transaction (if any) commits. With the
        broker unreachable, tell staff (and the command that does the same) and return
        False: nothing was queued or changed."""
        try:
            transaction.on_commit(lambda: task_publish(task, args))
        except Exception as exc:  # published at once outside a transaction: broker down
            log.warning("settlement_queue_failed", betcard=card.code, error=str(exc))
            self.message_user(
                request,
                f"{card.code}: the settlement could not be queued ({type(exc).__name__}: "
                f"{exc}); nothing changed. Try again, or run python manage.py settle_betcard "
                f"{card.code}{command_options} on the server.",
                messages.ERROR,
            )
            return False
        return True


def task_publish(task: Task[Any, Any], args: tuple[Any, ...]) -> None:
    """Queue `task`; raises at once (one connection try, no reconnect loop) when the broker
    is unreachable."""
    with task.app.producer_or_acquire() as producer:
        producer.connection.ensure_connection(max_retries=0)
        task.apply_async(args=args, producer=producer)


admin.site.unregister(Betcard)
admin.site.register(Betcard, BetcardSalesAdmin)
