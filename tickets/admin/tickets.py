"""Tickets in the back office: read-only, found fast among millions, two confirmed actions.

Implements the staff side of contract.md § PAM webhooks ("every attempt ... visible in the
admin") and staff cancellation (`staff_cancelled`). Nobody edits a ticket here: the only
changes are "cancel ticket" (`ticket_cancel_by_staff`, which queues ticket_refund when the
money was taken, else ticket_discard; the confirmation page says which per ticket) and
"retry webhook" (`delivery_retry_now`), each confirmed first and written to the admin log.

Lists stay fast at a million rows: searches are exact lookups on indexed columns (id, code,
token), filters use indexed columns, the count is estimated (tickets/admin/paging.py) and
there are no facet counts.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import ShowFacets
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse

from jackpot.admin_support import (
    Hidden,
    bulk_action,
    confirmation_page,
    format_cents,
    log_staff_action,
    object_action,
)
from jackpot.core.errors import DeliveryNotRetryable, TicketNotCancellable
from tickets.admin.inlines import DeliveryInline, SelectionInline
from tickets.admin.paging import EstimatedCountPaginator
from tickets.delivery.schedule import delivery_retry_now
from tickets.lifecycle import (
    CANCELLABLE,
    DiscardReason,
    staff_cancel_webhook,
    ticket_cancel_by_staff,
)
from tickets.models import (
    DeliveryStatus,
    Ticket,
    TicketStatus,
    WebhookDelivery,
)

if TYPE_CHECKING:
    TicketModelAdmin = admin.ModelAdmin[Ticket]
else:
    TicketModelAdmin = admin.ModelAdmin

TICKET_ID = re.compile(r"[0-9a-fA-F]{24}")
TICKET_CODE = re.compile(r"[0-9A-Za-z]{6}")
MAX_TICKETS_PER_ACTION = 200
RETRYABLE = (DeliveryStatus.PENDING, DeliveryStatus.FAILED)


class PayLaterFilter(admin.SimpleListFilter):
    """Reservations (contract.md § Pay later): waiting to be paid, paid, or expired."""

    title = "pay later"
    parameter_name = "pay_later"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("waiting", "Reserved, waiting to be paid"),
            ("paid", "Reserved, then paid"),
            ("expired", "Reservation expired"),
            ("paid_at_once", "Sold paid (no reservation)"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        choices = {
            "waiting": Q(status=TicketStatus.RESERVED),
            "paid": Q(paid_at__isnull=False),
            "expired": Q(cancel_reason=DiscardReason.RESERVATION_EXPIRED),
            "paid_at_once": Q(reserved_until__isnull=True),
        }
        value = self.value()
        return queryset.filter(choices[value]) if value in choices else queryset


class SourceFilter(admin.SimpleListFilter):
    """Sales channels from settings (Django's default would SELECT DISTINCT over the table)."""

    title = "source"
    parameter_name = "source"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(source, source) for source in settings.TICKET_SOURCES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(source=value) if value else queryset


@admin.register(Ticket)
class TicketAdmin(TicketModelAdmin):
    list_display = [
        "code",
        "id",
        "operator",
        "betcard",
        "price_display",
        "status",
        "result",
        "source",
        "token",
        "created_at",
    ]
    list_display_links = ["code", "id"]
    list_select_related = ["operator", "betcard"]
    list_filter = [
        "operator",
        "betcard",
        "status",
        "result",
        PayLaterFilter,
        SourceFilter,
        ("created_at", admin.DateFieldListFilter),
        ("reserved_until", admin.DateFieldListFilter),
    ]
    search_fields = ["id", "code", "token"]  # exact matches only: see get_search_results
    search_help_text = "Exact ticket id (24 hex), code (6 characters) or player token."
    ordering = ["-created_at"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    list_per_page = 50
    inlines = [SelectionInline, DeliveryInline]
    actions = ["cancel_tickets", "retry_webhooks"]
    change_form_template = "admin/tickets/ticket/change_form.html"
    fieldsets = [
        (None, {"fields": ["id", "code", "operator", "betcard", "status", "result", "approved"]}),
        ("Player", {"fields": ["token", "user_id", "psp", "source", "atag", "rtag"]}),
        (
            "Money (cents)",
            {
                "fields": [
                    "currency",
                    "price",
                    "stake",
                    "ext_type",
                    "ext_percent",
                    "ext_amount",
                    "wht_percent",
                    "wht_amount",
                    "gross_payout",
                    "net_payout",
                    "aff_comm_percent",
                    "aff_comm_amount",
                    "odds",
                    "prize",
                    "bonus_prizes",
                    "misses",
                ]
            },
        ),
        (
            "Life cycle",
            {
                "fields": [
                    "created_at",
                    "updated_at",
                    "reserved_until",
                    "paid_at",
                    "pam_confirmed_at",
                    "settled_at",
                    "closed_at",
                    "cancel_reason",
                    "needs_reconciliation",
                    "reference",
                ]
            },
        ),
    ]

    # -------------------------------------------------------------------- read-only
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_cancel_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("tickets.cancel_ticket")

    def has_retry_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("tickets.retry_webhookdelivery")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Ticket], search_term: str
    ) -> tuple[QuerySet[Ticket], bool]:
        """Exact lookups only, each on a unique or indexed column (never LIKE over 1M rows)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        query = Q(token=term)
        if TICKET_ID.fullmatch(term):
            query |= Q(id=term.lower())
        if TICKET_CODE.fullmatch(term):
            query |= Q(code=term.upper())
        return queryset.filter(query), False

    @admin.display(description="Price", ordering="price")
    def price_display(self, ticket: Ticket) -> str:
        return format_cents(ticket.price, ticket.currency)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = {
            **(extra_context or {}),
            "can_cancel_ticket": self.has_cancel_permission(request),
            "can_retry_webhooks": self.has_retry_permission(request),
        }
        return super().change_view(request, object_id, form_url, context)

    # -------------------------------------------------------------------- actions
    def get_urls(self) -> list[URLPattern]:
        custom = [
            path(
                "<str:object_id>/cancel/",
                self.admin_site.admin_view(self.cancel_view),
                name="tickets_ticket_cancel",
            ),
            path(
                "<str:object_id>/retry-webhooks/",
                self.admin_site.admin_view(self.retry_view),
                name="tickets_ticket_retry_webhooks",
            ),
        ]
        return custom + super().get_urls()

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        ticket = get_object_or_404(Ticket, pk=object_id)
        return object_action(
            request,
            ticket,
            allowed=self.has_cancel_permission(request),
            ask=self._cancel_question,
            run=self._cancel,
            back=reverse("admin:tickets_ticket_change", args=[ticket.pk]),
        )

    def retry_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        ticket = get_object_or_404(Ticket, pk=object_id)
        return object_action(
            request,
            ticket,
            allowed=self.has_retry_permission(request),
            ask=self._retry_question,
            run=self._retry,
            back=reverse("admin:tickets_ticket_change", args=[ticket.pk]),
        )

    @admin.action(
        description="Cancel selected tickets (sends ticket_refund or ticket_discard)",
        permissions=["cancel"],
    )
    def cancel_tickets(
        self, request: HttpRequest, queryset: QuerySet[Ticket]
    ) -> HttpResponse | None:
        tickets = self._selected(request, queryset)
        return bulk_action(request, tickets, ask=self._cancel_question, run=self._cancel)

    @admin.action(
        description="Retry the undelivered webhooks of selected tickets", permissions=["retry"]
    )
    def retry_webhooks(
        self, request: HttpRequest, queryset: QuerySet[Ticket]
    ) -> HttpResponse | None:
        tickets = self._selected(request, queryset)
        return bulk_action(request, tickets, ask=self._retry_question, run=self._retry)

    def _selected(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> list[Ticket] | None:
        tickets = list(
            queryset.select_related("operator").order_by("created_at")[: MAX_TICKETS_PER_ACTION + 1]
        )
        if len(tickets) > MAX_TICKETS_PER_ACTION:
            self.message_user(
                request,
                f"Select at most {MAX_TICKETS_PER_ACTION} tickets for one action.",
                messages.ERROR,
            )
            return None
        return tickets

    def _cancel_question(
        self, request: HttpRequest, tickets: list[Ticket], *, hidden: Hidden
    ) -> HttpResponse:
        skipped = [t.code for t in tickets if t.status not in CANCELLABLE]
        return confirmation_page(
            request,
            model_admin=self,
            title="Cancel tickets",
            question=(
                "Cancel these tickets? Each becomes cancelled (void, not approved), and its "
                "operator's PAM gets, with reason staff_cancelled: ticket_refund when the "
                "player's money was taken (ticket_create delivered, or a reservation paid), "
                "to give it back; else ticket_discard, which undoes a ticket_create or "
                "ticket_reserve that has not gone through. This cannot be undone."
            ),
            objects=[
                f"{_ticket_line(t)} → {staff_cancel_webhook(t).action}"
                for t in tickets
                if t.status in CANCELLABLE
            ],
            submit_label="Yes, cancel and send these webhooks",
            hidden=hidden,
            warning=(
                f"Neither reserved nor open, will be skipped: {', '.join(skipped)}."
                if skipped
                else ""
            ),
        )

    def _retry_question(
        self, request: HttpRequest, tickets: list[Ticket], *, hidden: Hidden
    ) -> HttpResponse:
        return confirmation_page(
            request,
            model_admin=self,
            title="Retry webhooks",
            question=(
                "Send the pending or failed webhooks of these tickets again, now? Delivered "
                "webhooks are not sent again; the PAM treats the ticket id as its "
                "idempotency key."
            ),
            objects=[_ticket_line(t) for t in tickets],
            submit_label="Yes, retry now",
            hidden=hidden,
        )

    def _cancel(self, request: HttpRequest, tickets: list[Ticket]) -> None:
        for ticket in tickets:
            try:
                webhook = ticket_cancel_by_staff(ticket=ticket)
            except TicketNotCancellable as exc:
                self.message_user(request, str(exc), messages.WARNING)
                continue
            log_staff_action(request, ticket, f"Cancelled by staff; {webhook} queued.")
            self.message_user(
                request, f"Ticket {ticket.code} cancelled; {webhook} queued.", messages.SUCCESS
            )

    def _retry(self, request: HttpRequest, tickets: list[Ticket]) -> None:
        deliveries = WebhookDelivery.objects.filter(
            ticket__in=[t.pk for t in tickets], status__in=RETRYABLE
        ).select_related("ticket")
        retried = 0
        for delivery in deliveries.order_by("pk"):
            try:
                delivery_retry_now(delivery_id=delivery.pk)
            except DeliveryNotRetryable as exc:
                self.message_user(request, f"{delivery}: {exc}", messages.WARNING)
                continue
            retried += 1
            assert delivery.ticket is not None  # filtered on ticket above
            log_staff_action(request, delivery.ticket, f"Retried webhook {delivery.action} now.")
            log_staff_action(request, delivery, "Retried now.")
        level = messages.SUCCESS if retried else messages.INFO
        self.message_user(request, f"{retried} webhook(s) queued to be sent now.", level)


def _ticket_line(ticket: Ticket) -> str:
    return (
        f"{ticket.code} ({ticket.id}) — {ticket.operator.name}, "
        f"{format_cents(ticket.price, ticket.currency)}, {ticket.status}"
    )
