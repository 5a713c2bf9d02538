"""Read-only inlines of the ticket page: its selections and its webhooks with every attempt
(contract.md § PAM webhooks: "every attempt is recorded ... and visible in the admin")."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from tickets.models import Selection, Ticket, WebhookAttempt, WebhookDelivery

if TYPE_CHECKING:
    SelectionInlineBase = admin.TabularInline[Selection, Ticket]
    DeliveryInlineBase = admin.TabularInline[WebhookDelivery, Ticket]
else:
    SelectionInlineBase = DeliveryInlineBase = admin.TabularInline

SELECTION_FIELDS = (
    "event_link",
    "fixture",
    "bet_name",
    "odds_submitted",
    "odds_accepted",
    "result",
)
DELIVERY_FIELDS = (
    "action",
    "status",
    "attempts_count",
    "next_attempt_at",
    "delivered_at",
    "attempts",
)


class ReadOnlyInlineMixin:
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SelectionInline(ReadOnlyInlineMixin, SelectionInlineBase):
    model = Selection
    verbose_name_plural = "selections"
    fields = readonly_fields = SELECTION_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[Selection]:
        return (
            super()
            .get_queryset(request)
            .select_related("event__home_team", "event__away_team", "bet__market")
            .order_by("event__starts_at", "event_id")
        )

    @admin.display(description="Event")
    def event_link(self, selection: Selection) -> SafeString:
        url = reverse("admin:betcards_event_change", args=[selection.event_id])
        return format_html('<a href="{}">{}</a>', url, selection.event_id)

    @admin.display(description="Fixture")
    def fixture(self, selection: Selection) -> str:
        event = selection.event
        return f"{event.home_team.name} v {event.away_team.name} ({event.starts_at:%Y-%m-%d %H:%M})"

    @admin.display(description="Bet")
    def bet_name(self, selection: Selection) -> str:
        return f"{selection.bet.market.name}: {selection.bet.name} (bet {selection.bet_id})"


def attempts_table(delivery: WebhookDelivery) -> SafeString:
    """Every HTTP attempt of a delivery: when, status, latency, outcome, error, answer."""
    attempts: list[WebhookAttempt] = list(delivery.attempts.all())
    if not attempts:
        return format_html("<em>{}</em>", "no attempt yet")
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} ms</td><td>{}</td><td>{}</td>"
        "<td><code>{}</code></td></tr>",
        (
            (
                attempt.number,
                f"{attempt.started_at:%Y-%m-%d %H:%M:%S} UTC",
                attempt.http_status if attempt.http_status is not None else "—",
                attempt.latency_ms,
                attempt.outcome,
                attempt.error or "",
                attempt.response_excerpt[:200],
            )
            for attempt in attempts
        ),
    )
    return format_html(
        '<table class="jackpot-attempts"><thead><tr><th>#</th><th>sent</th><th>HTTP</th>'
        "<th>latency</th><th>outcome</th><th>error</th><th>answer</th></tr></thead>"
        "<tbody>{}</tbody></table>",
        rows,
    )


class DeliveryInline(ReadOnlyInlineMixin, DeliveryInlineBase):
    model = WebhookDelivery
    verbose_name = "webhook"
    verbose_name_plural = "PAM webhooks and their attempts"
    fields = readonly_fields = DELIVERY_FIELDS
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookDelivery]:
        return super().get_queryset(request).prefetch_related("attempts").order_by("pk")

    @admin.display(description="Attempts (time, HTTP status, latency, error)")
    def attempts(self, delivery: WebhookDelivery) -> SafeString:
        return attempts_table(delivery)
