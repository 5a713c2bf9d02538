"""The catalogue in the back office: teams, events with markets and odds, imports.

Implements the staff side of contract.md § Domain words and operations.md § import_catalogue
(the same `catalogue_import` service, from an uploaded file). Markets and their results have
their own pages (`betcards.admin.markets`); betcards theirs (`betcards.admin.betcards`).
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.forms import ModelForm
from django.forms.renderers import BaseRenderer
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from betcards.admin.markets import block_button, markets_set_blocked_and_say, result_label
from betcards.catalogue.importing import CatalogueInvalid, catalogue_import
from betcards.models import Bet, BookmakerEvent, Event, Market, Team
from betcards.services import teams_set_active
from jackpot.admin_support import (
    RefusesProtectedDeleteAtOnce,
    log_staff_action,
    log_staff_actions,
    search_by_number_or_text,
)

if TYPE_CHECKING:
    TeamModelAdmin = admin.ModelAdmin[Team]
    EventModelAdmin = admin.ModelAdmin[Event]
    BookmakerEventModelAdmin = admin.ModelAdmin[BookmakerEvent]
    BookmakerEventInlineBase = admin.StackedInline[BookmakerEvent, Event]
    MarketInlineBase = admin.TabularInline[Market, Event]
    MarketModelForm = ModelForm[Market]
else:
    MarketModelForm = ModelForm
    TeamModelAdmin = EventModelAdmin = BookmakerEventModelAdmin = admin.ModelAdmin
    BookmakerEventInlineBase = admin.StackedInline
    MarketInlineBase = admin.TabularInline

IMPORT_TEMPLATE = "admin/betcards/event/import_catalogue.html"
ODDS_PLACES = Decimal("0.001")


@admin.register(Team)
class TeamAdmin(RefusesProtectedDeleteAtOnce, TeamModelAdmin):
    list_display = ["id", "name", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "id"]  # see get_search_results
    search_help_text = "Team id or name."
    ordering = ["name"]
    actions = ["enable", "disable"]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Team], search_term: str
    ) -> tuple[QuerySet[Team], bool]:
        return search_by_number_or_text(queryset, search_term, numbers=["id"], texts=["name"])

    @admin.action(description="Enable selected teams", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[Team]) -> None:
        self._set_active(request, queryset, active=True)

    @admin.action(
        description="Disable selected teams (their events stop selling, code 105)",
        permissions=["change"],
    )
    def disable(self, request: HttpRequest, queryset: QuerySet[Team]) -> None:
        self._set_active(request, queryset, active=False)

    def _set_active(self, request: HttpRequest, queryset: QuerySet[Team], *, active: bool) -> None:
        teams = teams_set_active(teams=queryset, active=active)
        log_staff_actions(request, teams, "Enabled." if active else "Disabled.")
        word = "enabled" if active else "disabled"
        self.message_user(request, f"{len(teams)} team(s) {word}.", messages.SUCCESS)


# ----------------------------------------------------------------------------- events


class BetOddsWidget(forms.Widget):
    """One small odds input per bet of a market, named `<field>_<bet id>`."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.bets: list[Bet] = []

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: BaseRenderer | None = None,
    ) -> SafeString:
        if not self.bets:
            return format_html("<span>{}</span>", "save the market, then add bets on its page")
        values = value if isinstance(value, dict) else {}
        return format_html_join(
            " ",
            '<label class="jackpot-odds">{} <input type="number" step="0.001" min="1" '
            'name="{}_{}" value="{}" style="width:5.5em" aria-label="odds of {}"></label>',
            ((bet.name, name, bet.pk, values.get(bet.pk, bet.odds), bet.name) for bet in self.bets),
        )

    def value_from_datadict(self, data: Any, files: Any, name: str) -> dict[int, str | None]:
        return {bet.pk: data.get(f"{name}_{bet.pk}") for bet in self.bets}


class BetOddsField(forms.Field):
    widget = BetOddsWidget

    def to_python(self, value: Any) -> dict[int, Decimal]:
        if not value:
            return {}
        odds: dict[int, Decimal] = {}
        for bet_id, raw in value.items():
            try:
                number = Decimal(str(raw).strip())
            except InvalidOperation:
                raise ValidationError(f"Odds {raw!r} are not a number.") from None
            if not number.is_finite() or number < 1 or number != number.quantize(ODDS_PLACES):
                raise ValidationError(f"Odds {raw} must be at least 1 with at most 3 decimals.")
            odds[int(bet_id)] = number
        return odds


class MarketInlineForm(MarketModelForm):
    odds = BetOddsField(required=False, label="Odds (edit in place)")

    class Meta:
        model = Market
        fields = ["id", "name", "is_blocked"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        bets = list(self.instance.bets.all()) if self.instance.pk is not None else []
        widget = self.fields["odds"].widget
        assert isinstance(widget, BetOddsWidget)
        widget.bets = bets
        self.initial["odds"] = {bet.pk: bet.odds for bet in bets}

    def save(self, commit: bool = True) -> Market:
        market = super().save(commit=commit)
        if "odds" in self.changed_data:
            new_odds: dict[int, Decimal] = self.cleaned_data["odds"]
            for bet in self.instance.bets.all():
                if bet.pk in new_odds and new_odds[bet.pk] != bet.odds:
                    bet.odds = new_odds[bet.pk]
                    bet.save(update_fields=["odds"])
        return market


class BookmakerEventInline(BookmakerEventInlineBase):
    model = BookmakerEvent
    extra = 0
    max_num = 1
    verbose_name = "bookmaker event (without one the event cannot be sold, code 108)"


class MarketInline(MarketInlineBase):
    model = Market
    form = MarketInlineForm
    extra = 0
    fields = ["id", "name", "is_blocked", "odds", "block", "result"]
    readonly_fields = ["block", "result"]
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Market]:
        return super().get_queryset(request).select_related("winning_bet").prefetch_related("bets")

    @admin.display(description="One click")
    def block(self, market: Market) -> str:
        if market.pk is None:
            return ""
        back = reverse("admin:betcards_event_change", args=[market.event_id])
        return block_button(market, back_to=back)

    @admin.display(description="Result")
    def result(self, market: Market) -> str:
        if market.pk is None:
            return ""
        return format_html(
            '{} <a href="{}">enter result</a>',
            result_label(market),
            reverse("admin:betcards_market_result", args=[market.pk]),
        )


class ImportCatalogueForm(forms.Form):
    document = forms.FileField(
        label="Catalogue JSON file",
        help_text="The import_catalogue format (operations.md): teams, events, betcards.",
    )

    def clean_document(self) -> object:
        upload = self.cleaned_data["document"]
        try:
            return json.loads(upload.read())
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValidationError(f"The file is not valid JSON: {exc}") from None


@admin.register(Event)
class EventAdmin(RefusesProtectedDeleteAtOnce, EventModelAdmin):
    list_display = ["id", "fixture", "starts_at", "bookmaker_event", "market_buttons"]
    list_display_links = ["id", "fixture"]
    list_filter = ["starts_at", "markets__is_blocked"]
    search_fields = ["id", "home_team__name", "away_team__name"]  # see get_search_results
    search_help_text = "Event id, a team name or a bookmaker event id."
    ordering = ["starts_at", "id"]
    date_hierarchy = "starts_at"
    autocomplete_fields = ["home_team", "away_team"]
    inlines = [BookmakerEventInline, MarketInline]
    actions = ["block_markets", "unblock_markets"]
    change_list_template = "admin/betcards/event/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Event]:
        # The teams name events in the list and in the autocomplete (betcard events,
        # markets). Here rather than list_select_related, which the change list ignores once
        # the queryset has a select_related. One query for the page's markets.
        return (
            super()
            .get_queryset(request)
            .select_related("home_team", "away_team", "bookmaker_event")
            .prefetch_related("markets")
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Event], search_term: str
    ) -> tuple[QuerySet[Event], bool]:
        return search_by_number_or_text(
            queryset,
            search_term,
            numbers=["id"],
            texts=["home_team__name", "away_team__name", "bookmaker_event__external_id"],
        )

    @admin.display(description="Fixture", ordering="home_team__name")
    def fixture(self, event: Event) -> str:
        return f"{event.home_team.name} v {event.away_team.name}"

    @admin.display(description="Bookmaker event")
    def bookmaker_event(self, event: Event) -> str:
        try:
            return event.bookmaker_event.external_id
        except BookmakerEvent.DoesNotExist:
            return "none (not sellable)"

    @admin.display(description="Markets (one click blocks or unblocks)")
    def market_buttons(self, event: Event) -> SafeString:
        back = reverse("admin:betcards_event_changelist")
        return format_html_join(
            " ",
            '<span class="jackpot-market">{} <b>{}</b> {}</span>',
            (
                (
                    market.name,
                    "blocked" if market.is_blocked else "open",
                    block_button(market, back_to=back),
                )
                for market in event.markets.all()
            ),
        )

    @admin.action(description="Block every market of the selected events", permissions=["change"])
    def block_markets(self, request: HttpRequest, queryset: QuerySet[Event]) -> None:
        self._set_blocked(request, queryset, blocked=True)

    @admin.action(description="Unblock every market of the selected events", permissions=["change"])
    def unblock_markets(self, request: HttpRequest, queryset: QuerySet[Event]) -> None:
        self._set_blocked(request, queryset, blocked=False)

    def _set_blocked(
        self, request: HttpRequest, queryset: QuerySet[Event], *, blocked: bool
    ) -> None:
        markets = Market.objects.filter(event__in=queryset)
        markets_set_blocked_and_say(self, request, markets, blocked=blocked)

    # -------------------------------------------------------------------- import
    def get_urls(self) -> list[URLPattern]:
        custom = [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="betcards_event_import",
            ),
        ]
        return custom + super().get_urls()

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request) or not self.has_change_permission(request):
            raise PermissionDenied
        form = ImportCatalogueForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                summary = catalogue_import(form.cleaned_data["document"])
            except CatalogueInvalid as exc:
                # One form error per line of the message: a list, not one run-on paragraph.
                first, *more = str(exc).splitlines()
                form.add_error("document", f"Nothing was imported: {first}")
                for line in more:
                    form.add_error("document", line.strip())
            else:
                log_staff_action(
                    request,
                    request.user,  # type: ignore[arg-type]
                    f"Imported a catalogue: {summary}",
                )
                self.message_user(request, f"Catalogue imported: {summary}.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:betcards_event_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Import a catalogue",
            "subtitle": None,
            "opts": self.opts,
            "form": form,
        }
        return TemplateResponse(request, IMPORT_TEMPLATE, context)


@admin.register(BookmakerEvent)
class BookmakerEventAdmin(RefusesProtectedDeleteAtOnce, BookmakerEventModelAdmin):
    list_display = ["external_id", "event"]
    list_select_related = ["event__home_team", "event__away_team"]
    search_fields = ["external_id", "event__id"]  # see get_search_results
    autocomplete_fields = ["event"]
    ordering = ["external_id"]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[BookmakerEvent], search_term: str
    ) -> tuple[QuerySet[BookmakerEvent], bool]:
        return search_by_number_or_text(
            queryset, search_term, numbers=["event_id"], texts=["external_id"]
        )
