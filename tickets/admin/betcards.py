"""Betcards in the back office: create, order events, open/close, live figures, settle.

Implements the staff side of contract.md § Domain words (betcard) and § Settlement. Rules
live in services: `betcards.services` (a card with tickets keeps its events, price and
prizes; open/close), `tickets.figures` (sales figures, one query per page) and
`tickets.settlement` (settle, resettle with a reason). Every action is written to the admin
log; settling and resettling are confirmed first, checked at once (a refusal shows its
message) and then run by a worker (`tickets.settlement_tasks`): a million tickets take
minutes, far longer than a web request may.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import RegexValidator
from django.db import transaction
from django.db.models import Count, QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe

from betcards.models import Betcard, BetcardEvent, BetcardStatus
from betcards.services import (
    LOCKED_FIELDS,
    BetcardLocked,
    BetcardStatusInvalid,
    betcard_assert_editable,
    betcard_close,
    betcard_is_locked,
    betcard_open,
)
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
from jackpot.celery import app as celery_app
from jackpot.core.errors import ContractError
from tickets.figures import NO_FIGURES, BetcardFigures, betcard_figures
from tickets.settlement import betcard_resettle_check, betcard_settle_check
from tickets.settlement_tasks import betcard_resettle_task, betcard_settle_task

if TYPE_CHECKING:
    from celery import Task

    BetcardModelAdmin = admin.ModelAdmin[Betcard]
    BetcardEventInlineBase = admin.TabularInline[BetcardEvent, Betcard]
    BetcardModelForm = ModelForm[Betcard]
    BetcardEventFormSetBase = BaseInlineFormSet[BetcardEvent, Betcard, Any]
else:
    BetcardModelAdmin = admin.ModelAdmin
    BetcardEventInlineBase = admin.TabularInline
    BetcardModelForm = ModelForm
    BetcardEventFormSetBase = BaseInlineFormSet

log = structlog.get_logger(__name__)

WATCH_HINT = (
    "It runs in the background (minutes for a large card): reload this card's page to "
    "follow it under Settlement rounds (running, then finished)."
)


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


class BetcardForm(BetcardModelForm):
    class Meta:
        model = Betcard
        fields = [
            "code",
            "name",
            "operator",
            "currency",
            "price",
            "prize",
            "bonus_prizes",
            "min_events",
            "opens_at",
            "closes_at",
        ]
        labels = {
            "price": "Price (cents)",
            "prize": "Jackpot prize (cents)",
            "bonus_prizes": "Bonus prizes (cents)",
        }
        help_texts = {
            "code": "Public code operators send as betcard_code, e.g. ABC123.",
            "operator": "Only this operator may sell the card; empty: every operator.",
            "currency": "ISO 4217 code of price and prizes, e.g. USD.",
            "bonus_prizes": "Comma-separated: 1 miss, 2 misses, ... e.g. 2000,1500,1000.",
            "min_events": "Fewest events a ticket must pick; empty: all of them.",
            "closes_at": "Empty: sales close at the first kick-off.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "currency" in self.fields:
            self.fields["currency"].validators.append(
                RegexValidator(r"^[A-Z]{3}$", "Use an ISO 4217 code such as USD.")
            )
        if betcard_is_locked(betcard=self.instance):
            for name in LOCKED_FIELDS:
                if name in self.fields:
                    self.fields[name].widget.attrs["readonly"] = True

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            betcard_assert_editable(betcard=self.instance, changing=self.changed_data)
        except BetcardLocked as exc:
            raise ValidationError(str(exc)) from None
        return data


class BetcardEventFormSet(BetcardEventFormSetBase):
    def clean(self) -> None:
        super().clean()
        if self.has_changed():
            try:
                betcard_assert_editable(betcard=self.instance, changing=["events"])
            except BetcardLocked as exc:
                raise ValidationError(str(exc)) from None


class BetcardEventInline(BetcardEventInlineBase):
    model = BetcardEvent
    formset = BetcardEventFormSet
    extra = 0
    fields = ["position", "event", "fixture", "starts_at"]
    readonly_fields = ["fixture", "starts_at"]
    autocomplete_fields = ["event"]
    ordering = ["position"]
    verbose_name = "event"
    verbose_name_plural = "events, in card order"

    def get_queryset(self, request: HttpRequest) -> QuerySet[BetcardEvent]:
        return super().get_queryset(request).select_related("event__home_team", "event__away_team")

    def get_extra(self, request: HttpRequest, obj: Betcard | None = None, **kwargs: Any) -> int:
        return 3 if obj is None else 0

    def _editable(self, request: HttpRequest, obj: Betcard | None) -> bool:
        return obj is None or not betcard_is_locked(betcard=obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj) and super().has_delete_permission(request, obj)

    @admin.display(description="Fixture")
    def fixture(self, entry: BetcardEvent) -> str:
        if entry.pk is None:
            return ""
        return f"{entry.event.home_team.name} v {entry.event.away_team.name}"

    @admin.display(description="Kick-off")
    def starts_at(self, entry: BetcardEvent) -> str:
        return "" if entry.pk is None else f"{entry.event.starts_at:%Y-%m-%d %H:%M} UTC"


@admin.register(Betcard)
class BetcardAdmin(BetcardModelAdmin):
    form = BetcardForm
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
    list_filter = ["status", "currency", "operator"]
    search_fields = ["code", "name"]
    ordering = ["-opens_at", "code"]
    inlines = [BetcardEventInline]
    actions = ["open_betcards", "close_betcards", "settle_betcards", "resettle_betcard"]
    change_form_template = "admin/tickets/betcard/change_form.html"
    figure_fields = [
        "status",
        "tickets_sold",
        "tickets_cancelled",
        "total_price",
        "total_stake",
        "excise",
        "settlement_rounds",
    ]
    readonly_fields = figure_fields

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return BetcardChangeList

    def get_queryset(self, request: HttpRequest) -> QuerySet[Betcard]:
        return super().get_queryset(request).annotate(_event_count=Count("card_events"))

    def get_fieldsets(self, request: HttpRequest, obj: Betcard | None = None) -> Any:
        card = [
            "code",
            "name",
            "operator",
            "currency",
            "price",
            "prize",
            "bonus_prizes",
            "min_events",
        ]
        fieldsets: list[tuple[str | None, dict[str, Any]]] = [
            (None, {"fields": card}),
            ("Sales window", {"fields": ["opens_at", "closes_at"]}),
        ]
        if obj is not None:
            fieldsets.append(("Live figures", {"fields": self.figure_fields}))
        return fieldsets

    def render_change_form(  # noqa: PLR0917 - Django's signature
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Betcard | None = None,
    ) -> HttpResponse:
        # `obj` is the form's own instance, so its figures are computed once per page.
        if obj is not None and obj.pk is not None:
            figures = figures_of(obj)
            count = figures.tickets_sold + figures.tickets_cancelled
            if count:
                context["locked_message"] = (
                    f"This betcard has {count} ticket{'s' if count != 1 else ''}: its events, "
                    "price and prizes can no longer change."
                )
            context["can_settle"] = self.has_change_permission(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    # -------------------------------------------------------------------- figures
    @admin.display(description="Price", ordering="price")
    def price_display(self, card: Betcard) -> str:
        return format_cents(card.price, card.currency)

    @admin.display(description="Events", ordering="_event_count")
    def event_count(self, card: Betcard) -> int:
        return int(getattr(card, "_event_count", 0))

    @admin.display(description="Tickets sold")
    def tickets_sold(self, card: Betcard) -> int:
        return figures_of(card).tickets_sold

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

    # -------------------------------------------------------------------- saving
    def save_model(self, request: HttpRequest, obj: Betcard, form: Any, change: bool) -> None:
        if not change:
            obj.status = BetcardStatus.DRAFT
        super().save_model(request, obj, form, change)

    # -------------------------------------------------------------------- open / close
    def get_urls(self) -> list[URLPattern]:
        def view(name: str, func: Any) -> URLPattern:
            pattern: URLPattern = path(
                f"<int:object_id>/{name}/",
                self.admin_site.admin_view(func),
                name=f"betcards_betcard_{name}",
            )
            return pattern

        custom = [
            view("open", self.open_view),
            view("close", self.close_view),
            view("settle", self.settle_view),
            view("resettle", self.resettle_view),
        ]
        return custom + super().get_urls()

    def _card_for_change(self, request: HttpRequest, object_id: int) -> Betcard:
        card = get_object_or_404(Betcard, pk=object_id)
        if not self.has_change_permission(request, card):
            raise PermissionDenied
        return card

    def _back(self, card: Betcard) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:betcards_betcard_change", args=[card.pk]))

    def open_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        card = self._card_for_change(request, object_id)
        if request.method != "POST":
            raise PermissionDenied
        self._move(request, [card], opening=True)
        return self._back(card)

    def close_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        card = self._card_for_change(request, object_id)
        if request.method != "POST":
            raise PermissionDenied
        self._move(request, [card], opening=False)
        return self._back(card)

    @admin.action(description="Open selected betcards for sales", permissions=["change"])
    def open_betcards(self, request: HttpRequest, queryset: QuerySet[Betcard]) -> None:
        self._move(request, list(queryset), opening=True)

    @admin.action(description="Close selected betcards (stop sales)", permissions=["change"])
    def close_betcards(self, request: HttpRequest, queryset: QuerySet[Betcard]) -> None:
        self._move(request, list(queryset), opening=False)

    def _move(self, request: HttpRequest, cards: list[Betcard], *, opening: bool) -> None:
        for card in cards:
            try:
                moved = betcard_open(betcard=card) if opening else betcard_close(betcard=card)
            except BetcardStatusInvalid as exc:
                self.message_user(request, str(exc), messages.ERROR)
                continue
            if moved:
                word = "Opened for sales." if opening else "Closed (sales stopped)."
                log_staff_action(request, card, word)
                self.message_user(request, f"Betcard {card.code}: {word}", messages.SUCCESS)
            else:
                self.message_user(
                    request, f"Betcard {card.code} was already {card.status}.", messages.INFO
                )

    # -------------------------------------------------------------------- settlement
    def settle_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        card = self._card_for_change(request, object_id)  # checks the permission
        return object_action(
            request,
            card,
            allowed=True,
            ask=self._settle_question,
            run=self._settle,
            back=reverse("admin:betcards_betcard_change", args=[card.pk]),
        )

    def resettle_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        card = self._card_for_change(request, object_id)
        if not is_confirmed(request):
            return self._resettle_question(request, card, hidden={})
        self._resettle(request, card)
        return self._back(card)

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
    with celery_app.producer_or_acquire() as producer:
        producer.connection.ensure_connection(max_retries=0)
        task.apply_async(args=args, producer=producer)
