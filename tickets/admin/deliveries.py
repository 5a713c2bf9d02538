"""PAM webhook deliveries in the back office: every attempt visible, "retry now" confirmed.

Implements the staff side of contract.md § PAM webhooks. Read-only like tickets; the one
action, `delivery_retry_now`, is confirmed first and written to the admin log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin import ShowFacets
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from jackpot.admin_support import (
    Hidden,
    bulk_action,
    confirmation_page,
    log_staff_action,
    object_action,
)
from jackpot.core.errors import DeliveryNotRetryable
from tickets.admin.inlines import attempts_table
from tickets.admin.paging import EstimatedCountPaginator
from tickets.admin.tickets import TICKET_CODE, TICKET_ID
from tickets.delivery.schedule import delivery_retry_now
from tickets.models import WebhookDelivery

if TYPE_CHECKING:
    DeliveryModelAdmin = admin.ModelAdmin[WebhookDelivery]
else:
    DeliveryModelAdmin = admin.ModelAdmin

MAX_DELIVERIES_PER_ACTION = 200
DELIVERY_PAGE_FIELDS = (
    "ticket_link",
    "operator",
    "action",
    "status",
    "attempts_count",
    "next_attempt_at",
    "retry_deadline",
    "delivered_at",
    "last_error",
    "created_at",
    "updated_at",
    "body",
    "attempts",
)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(DeliveryModelAdmin):
    list_display = [
        "id",
        "action",
        "ticket_link",
        "operator",
        "status",
        "attempts_count",
        "next_attempt_at",
        "delivered_at",
        "last_error",
    ]
    list_select_related = ["ticket", "operator"]
    list_filter = ["status", "action", "operator", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["ticket__id", "ticket__code"]  # exact matches only: get_search_results
    search_help_text = "Exact ticket id or code."
    ordering = ["-id"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    list_per_page = 50
    actions = ["retry_now"]
    change_form_template = "admin/tickets/webhookdelivery/change_form.html"
    fields = readonly_fields = DELIVERY_PAGE_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookDelivery]:
        queryset = super().get_queryset(request)
        url_name = request.resolver_match.url_name if request.resolver_match else None
        if url_name is not None and url_name.endswith("_change"):
            queryset = queryset.prefetch_related("attempts")
        return queryset

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_retry_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("tickets.retry_webhookdelivery")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[WebhookDelivery], search_term: str
    ) -> tuple[QuerySet[WebhookDelivery], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        query = Q(pk=int(term)) if term.isdigit() and len(term) <= 18 else Q()
        if TICKET_ID.fullmatch(term):
            query |= Q(ticket_id=term.lower())
        if TICKET_CODE.fullmatch(term):
            query |= Q(ticket__code=term.upper())
        return (queryset.filter(query) if query else queryset.none()), False

    @admin.display(description="Ticket", ordering="ticket__code")
    def ticket_link(self, delivery: WebhookDelivery) -> SafeString | str:
        if delivery.ticket is None:
            return "— (test webhook)"
        url = reverse("admin:tickets_ticket_change", args=[delivery.ticket_id])
        return format_html('<a href="{}">{}</a>', url, delivery.ticket.code)

    @admin.display(description="Attempts (time, HTTP status, latency, error)")
    def attempts(self, delivery: WebhookDelivery) -> SafeString:
        return attempts_table(delivery)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = {
            **(extra_context or {}),
            "can_retry_webhooks": self.has_retry_permission(request),
        }
        return super().change_view(request, object_id, form_url, context)

    def get_urls(self) -> list[URLPattern]:
        custom = [
            path(
                "<int:object_id>/retry/",
                self.admin_site.admin_view(self.retry_view),
                name="tickets_webhookdelivery_retry",
            ),
        ]
        return custom + super().get_urls()

    def retry_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        delivery = get_object_or_404(WebhookDelivery, pk=object_id)
        return object_action(
            request,
            delivery,
            allowed=self.has_retry_permission(request),
            ask=self._question,
            run=self._retry,
            back=reverse("admin:tickets_webhookdelivery_change", args=[delivery.pk]),
        )

    @admin.action(description="Retry selected webhooks now", permissions=["retry"])
    def retry_now(
        self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]
    ) -> HttpResponse | None:
        deliveries = list(queryset.select_related("ticket")[: MAX_DELIVERIES_PER_ACTION + 1])
        if len(deliveries) > MAX_DELIVERIES_PER_ACTION:
            self.message_user(
                request,
                f"Select at most {MAX_DELIVERIES_PER_ACTION} webhooks for one action.",
                messages.ERROR,
            )
            return None
        return bulk_action(request, deliveries, ask=self._question, run=self._retry)

    def _question(
        self, request: HttpRequest, deliveries: list[WebhookDelivery], *, hidden: Hidden
    ) -> HttpResponse:
        return confirmation_page(
            request,
            model_admin=self,
            title="Retry webhooks now",
            question=(
                "Send these webhooks to the PAM again, now? A failed one is reopened; a "
                "delivered one is not sent again."
            ),
            objects=[f"#{d.pk} {d} — {d.status}" for d in deliveries],
            submit_label="Yes, retry now",
            hidden=hidden,
        )

    def _retry(self, request: HttpRequest, deliveries: list[WebhookDelivery]) -> None:
        for delivery in deliveries:
            try:
                delivery_retry_now(delivery_id=delivery.pk)
            except DeliveryNotRetryable as exc:
                self.message_user(request, f"Webhook #{delivery.pk}: {exc}", messages.WARNING)
                continue
            log_staff_action(request, delivery, "Retried now.")
            if delivery.ticket is not None:
                log_staff_action(
                    request, delivery.ticket, f"Retried webhook {delivery.action} now."
                )
            self.message_user(
                request, f"Webhook #{delivery.pk} ({delivery.action}) queued now.", messages.SUCCESS
            )
