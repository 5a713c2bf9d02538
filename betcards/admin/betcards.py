"""Betcards in the back office: create, order events, open and close sales.

Implements the staff side of contract.md § Domain words (betcard). Rules live in
`betcards.services`: a card with tickets keeps its events, price and prizes; open/close.
What a card's tickets add (live sales figures, settle and resettle) is the tickets app's
`BetcardSalesAdmin` (`tickets.admin.betcard_sales`), which extends this page and takes its
registration: the arrows point tickets → betcards, never back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import RegexValidator
from django.db.models import Count, QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse

from betcards.models import Betcard, BetcardEvent, BetcardStatus
from betcards.services import (
    LOCKED_FIELDS,
    betcard_assert_editable,
    betcard_close,
    betcard_is_locked,
    betcard_open,
)
from jackpot.admin_support import RefusesProtectedDeleteAtOnce, format_cents, log_staff_action
from jackpot.core.errors import BetcardLocked, BetcardStatusInvalid

if TYPE_CHECKING:
    BetcardModelAdmin = admin.ModelAdmin[Betcard]
    BetcardEventInlineBase = admin.TabularInline[BetcardEvent, Betcard]
    BetcardModelForm = ModelForm[Betcard]
    BetcardEventFormSetBase = BaseInlineFormSet[BetcardEvent, Betcard, Any]
else:
    BetcardModelAdmin = admin.ModelAdmin
    BetcardEventInlineBase = admin.TabularInline
    BetcardModelForm = ModelForm
    BetcardEventFormSetBase = BaseInlineFormSet

CARD_FIELDS = [
    "code",
    "name",
    "operator",
    "currency",
    "price",
    "prize",
    "bonus_prizes",
    "min_events",
]
WINDOW_FIELDS = ["opens_at", "closes_at"]


class BetcardForm(BetcardModelForm):
    class Meta:
        model = Betcard
        fields = [*CARD_FIELDS, *WINDOW_FIELDS]
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
class BetcardAdmin(RefusesProtectedDeleteAtOnce, BetcardModelAdmin):
    form = BetcardForm
    list_display = ["code", "name", "status", "price_display", "event_count", "opens_at"]
    list_filter = ["status", "currency", "operator"]
    search_fields = ["code", "name"]
    ordering = ["-opens_at", "code"]
    inlines = [BetcardEventInline]
    actions = ["open_betcards", "close_betcards"]
    change_form_template = "admin/betcards/betcard/change_form.html"
    readonly_fields = ["status"]
    # The fieldset an existing card shows below its sales window.
    status_fieldset: tuple[str, list[str]] = ("Status", ["status"])
    # Object-page tools that run on the card's own URL (`<id>/<name>/`), by view method.
    tool_views: tuple[str, ...] = ("open", "close")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Betcard]:
        return super().get_queryset(request).annotate(_event_count=Count("card_events"))

    def get_fieldsets(self, request: HttpRequest, obj: Betcard | None = None) -> Any:
        fieldsets: list[tuple[str | None, dict[str, Any]]] = [
            (None, {"fields": CARD_FIELDS}),
            ("Sales window", {"fields": WINDOW_FIELDS}),
        ]
        if obj is not None:
            title, fields = self.status_fieldset
            fieldsets.append((title, {"fields": fields}))
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
        if obj is not None and obj.pk is not None:
            count = self.ticket_count(obj)
            if count:
                context["locked_message"] = (
                    f"This betcard has {count} ticket{'s' if count != 1 else ''}: its events, "
                    "price and prizes can no longer change."
                )
            context["can_change_card"] = self.has_change_permission(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def ticket_count(self, card: Betcard) -> int:
        return card.tickets.count()

    @admin.display(description="Price", ordering="price")
    def price_display(self, card: Betcard) -> str:
        return format_cents(card.price, card.currency)

    @admin.display(description="Events", ordering="_event_count")
    def event_count(self, card: Betcard) -> int:
        return int(getattr(card, "_event_count", 0))

    def save_model(self, request: HttpRequest, obj: Betcard, form: Any, change: bool) -> None:
        if not change:
            obj.status = BetcardStatus.DRAFT
        super().save_model(request, obj, form, change)

    # -------------------------------------------------------------------- open / close
    def get_urls(self) -> list[URLPattern]:
        custom = [
            path(
                f"<int:object_id>/{name}/",
                self.admin_site.admin_view(getattr(self, f"{name}_view")),
                name=f"betcards_betcard_{name}",
            )
            for name in self.tool_views
        ]
        return custom + super().get_urls()

    def card_for_change(self, request: HttpRequest, object_id: int) -> Betcard:
        card = get_object_or_404(Betcard, pk=object_id)
        if not self.has_change_permission(request, card):
            raise PermissionDenied
        return card

    def back_to(self, card: Betcard) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:betcards_betcard_change", args=[card.pk]))

    def open_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        card = self.card_for_change(request, object_id)
        if request.method != "POST":
            raise PermissionDenied
        self._move(request, [card], opening=True)
        return self.back_to(card)

    def close_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        card = self.card_for_change(request, object_id)
        if request.method != "POST":
            raise PermissionDenied
        self._move(request, [card], opening=False)
        return self.back_to(card)

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
