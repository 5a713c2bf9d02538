"""Markets in the back office: one-click blocking, results with their audit trail.

Implements the staff side of contract.md § Settlement ("a market's result is a winning bet or
void, entered by staff"): results go through `betcards.results.market_result_set`, audited;
blocking through `betcards.services.markets_set_blocked` (code 109 for placements).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString

from betcards.models import Bet, Market, MarketResultChange
from betcards.results import market_result_set
from betcards.services import markets_set_blocked
from jackpot.admin_support import (
    RefusesProtectedDeleteAtOnce,
    log_staff_action,
    log_staff_actions,
    search_by_number_or_text,
)
from jackpot.core.errors import ResultInvalid

if TYPE_CHECKING:
    MarketModelAdmin = admin.ModelAdmin[Market]
    ResultChangeModelAdmin = admin.ModelAdmin[MarketResultChange]
    BetInlineBase = admin.TabularInline[Bet, Market]
    ResultChangeInlineBase = admin.TabularInline[MarketResultChange, Market]
else:
    MarketModelAdmin = ResultChangeModelAdmin = admin.ModelAdmin
    BetInlineBase = ResultChangeInlineBase = admin.TabularInline

RESULT_TEMPLATE = "admin/betcards/market/result.html"


def result_label(market: Market) -> str:
    if market.is_void:
        return "void"
    if market.winning_bet_id is not None:
        bet = market.winning_bet
        return f"won by {bet.name}" if bet is not None else f"won by bet {market.winning_bet_id}"
    return "—"


def block_button(market: Market, *, back_to: str) -> SafeString:
    """A one-click block/unblock button; it submits the page's own form (with its CSRF token)
    to the market's toggle URL, so it works inside change forms and the changelist alike."""
    url = reverse("admin:betcards_market_toggle_block", args=[market.pk])
    label = "Unblock" if market.is_blocked else "Block"
    return format_html(
        '<button type="submit" class="button jackpot-toggle-block" formaction="{}?next={}" '
        'formmethod="post" formnovalidate data-market="{}">{}</button>',
        url,
        back_to,
        market.pk,
        label,
    )


def markets_set_blocked_and_say(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    markets: QuerySet[Market],
    *,
    blocked: bool,
) -> None:
    """The block/unblock actions of the event and market lists: change, log, say how many."""
    changed = markets_set_blocked(markets=markets, blocked=blocked)
    log_staff_actions(request, changed, "Blocked." if blocked else "Unblocked.")
    word = "blocked" if blocked else "unblocked"
    model_admin.message_user(request, f"{len(changed)} market(s) {word}.", messages.SUCCESS)


class BetInline(BetInlineBase):
    model = Bet
    extra = 0
    fields = ["id", "name", "odds"]


class ResultChangeInline(ResultChangeInlineBase):
    model = MarketResultChange
    extra = 0
    can_delete = False
    verbose_name = "result change"
    verbose_name_plural = "result history (audit)"
    fields = ["changed_at", "outcome", "changed_by", "source", "reason"]
    readonly_fields = ["changed_at", "outcome", "changed_by", "source", "reason"]
    ordering = ["-changed_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[MarketResultChange]:
        return super().get_queryset(request).select_related("winning_bet", "changed_by")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Result set")
    def outcome(self, change: MarketResultChange) -> str:
        if change.is_void:
            return "void"
        if change.winning_bet is not None:
            return f"won by {change.winning_bet.name} (bet {change.winning_bet_id})"
        return "cleared"


class MarketResultForm(forms.Form):
    VOID = "void"
    CLEAR = "clear"

    outcome = forms.ChoiceField(widget=forms.RadioSelect, label="Result")
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        required=False,
        help_text="Required when correcting a result that was already set.",
    )

    def __init__(self, *args: Any, market: Market, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.market = market
        choices = [(str(bet.pk), f"{bet.name} wins (bet {bet.pk}, odds {bet.odds})")
                   for bet in market.bets.all()]  # fmt: skip
        choices += [(self.VOID, "Void (matched for every ticket)"), (self.CLEAR, "No result")]
        outcome = self.fields["outcome"]
        assert isinstance(outcome, forms.ChoiceField)
        outcome.choices = choices
        if market.is_void:
            self.initial["outcome"] = self.VOID
        elif market.winning_bet_id is not None:
            self.initial["outcome"] = str(market.winning_bet_id)
        else:
            self.initial["outcome"] = self.CLEAR

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (
            self.market.has_result
            and data.get("outcome") != self.initial["outcome"]
            and not data.get("reason", "").strip()
        ):
            self.add_error("reason", "Say why the result is being corrected.")
        return data


@admin.register(Market)
class MarketAdmin(RefusesProtectedDeleteAtOnce, MarketModelAdmin):
    list_display = ["id", "name", "event", "is_blocked", "result", "result_set_at"]
    list_select_related = ["event__home_team", "event__away_team", "winning_bet"]
    list_filter = ["is_blocked", "is_void", "name"]
    search_fields = ["id", "event__id", "name"]  # see get_search_results
    search_help_text = "Market id, event id or market name."
    autocomplete_fields = ["event"]
    fields = ["id", "event", "name", "is_blocked", "result", "result_set_at", "result_set_by"]
    readonly_fields = ["result", "result_set_at", "result_set_by"]
    inlines = [BetInline, ResultChangeInline]
    actions = ["block", "unblock"]
    ordering = ["event", "id"]
    change_form_template = "admin/betcards/market/change_form.html"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Market], search_term: str
    ) -> tuple[QuerySet[Market], bool]:
        return search_by_number_or_text(
            queryset, search_term, numbers=["id", "event_id"], texts=["name"]
        )

    @admin.display(description="Result")
    def result(self, market: Market) -> str:
        return result_label(market)

    @admin.action(description="Block selected markets", permissions=["change"])
    def block(self, request: HttpRequest, queryset: QuerySet[Market]) -> None:
        self._set_blocked(request, queryset, blocked=True)

    @admin.action(description="Unblock selected markets", permissions=["change"])
    def unblock(self, request: HttpRequest, queryset: QuerySet[Market]) -> None:
        self._set_blocked(request, queryset, blocked=False)

    def _set_blocked(
        self, request: HttpRequest, queryset: QuerySet[Market], *, blocked: bool
    ) -> None:
        markets_set_blocked_and_say(self, request, queryset, blocked=blocked)

    def get_urls(self) -> list[URLPattern]:
        custom = [
            path(
                "<int:object_id>/toggle-block/",
                self.admin_site.admin_view(self.toggle_block_view),
                name="betcards_market_toggle_block",
            ),
            path(
                "<int:object_id>/result/",
                self.admin_site.admin_view(self.result_view),
                name="betcards_market_result",
            ),
        ]
        return custom + super().get_urls()

    def toggle_block_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        market = get_object_or_404(Market, pk=object_id)
        if request.method != "POST" or not self.has_change_permission(request, market):
            raise PermissionDenied
        with transaction.atomic():
            market = Market.objects.select_for_update().get(pk=market.pk)
            markets_set_blocked(
                markets=Market.objects.filter(pk=market.pk), blocked=not market.is_blocked
            )
            market.is_blocked = not market.is_blocked
            log_staff_action(request, market, "Blocked." if market.is_blocked else "Unblocked.")
        word = "blocked" if market.is_blocked else "unblocked"
        self.message_user(request, f"Market {market} {word}.", messages.SUCCESS)
        back = request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("admin:betcards_market_change", args=[market.pk])
        return HttpResponseRedirect(back)

    def result_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        market = get_object_or_404(
            Market.objects.select_related("event__home_team", "event__away_team"), pk=object_id
        )
        if not self.has_change_permission(request, market):
            raise PermissionDenied
        form = MarketResultForm(request.POST or None, market=market)
        if request.method == "POST" and form.is_valid():
            outcome = form.cleaned_data["outcome"]
            winner = None
            if outcome not in (MarketResultForm.VOID, MarketResultForm.CLEAR):
                winner = market.bets.get(pk=int(outcome))
            try:
                changed = market_result_set(
                    market=market,
                    winning_bet=winner,
                    void=outcome == MarketResultForm.VOID,
                    changed_by=request.user,  # type: ignore[arg-type]
                    source="admin",
                    reason=form.cleaned_data["reason"],
                )
            except ResultInvalid as exc:
                form.add_error(None, str(exc))
            else:
                if changed:
                    log_staff_action(request, market, f"Result set: {result_label(market)}.")
                    self.message_user(
                        request,
                        f"Result of {market} set: {result_label(market)}. A settled betcard "
                        "takes it only through “resettle with reason”.",
                        messages.SUCCESS,
                    )
                else:
                    self.message_user(request, "The result was already that.", messages.INFO)
                return HttpResponseRedirect(
                    reverse("admin:betcards_market_change", args=[market.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Result of {market.name} — {market.event.home_team.name} v "
            f"{market.event.away_team.name}",
            "subtitle": None,
            "opts": self.opts,
            "original": market,
            "form": form,
        }
        return TemplateResponse(request, RESULT_TEMPLATE, context)


@admin.register(MarketResultChange)
class MarketResultChangeAdmin(ResultChangeModelAdmin):
    """The result audit, read-only for everyone (written by `market_result_set`)."""

    list_display = ["changed_at", "market", "winning_bet", "is_void", "changed_by", "source"]
    list_select_related = ["market", "winning_bet", "changed_by"]
    list_filter = ["source", "is_void", "changed_at"]
    search_fields = ["market__id"]  # see get_search_results
    search_help_text = "Market id."
    ordering = ["-changed_at"]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[MarketResultChange], search_term: str
    ) -> tuple[QuerySet[MarketResultChange], bool]:
        return search_by_number_or_text(queryset, search_term, numbers=["market_id"])

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
