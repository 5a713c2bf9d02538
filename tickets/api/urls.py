"""Routes under /be/: the ticket endpoints, the OpenAPI schema and its docs pages."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from tickets.api.views import TicketDetailApi, TicketPaidApi, TicketReserveApi, TicketsApi

urlpatterns = [
    path("tickets", TicketsApi.as_view(), name="tickets"),
    path("tickets/reserve", TicketReserveApi.as_view(), name="ticket-reserve"),
    path("tickets/<str:identifier>", TicketDetailApi.as_view(), name="ticket-detail"),
    path("tickets/<str:identifier>/paid", TicketPaidApi.as_view(), name="ticket-paid"),
    path("schema", SpectacularAPIView.as_view(), name="be-schema"),
    path(
        "docs",
        # "Try it out" signs its requests (jackpot/templates/api/swagger_ui.js)
        SpectacularSwaggerView.as_view(url_name="be-schema", template_name_js="api/swagger_ui.js"),
        name="be-docs",
    ),
    path("redoc", SpectacularRedocView.as_view(url_name="be-schema"), name="be-redoc"),
]
