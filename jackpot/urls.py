"""URL wiring: the operator API under /be/, the back office under /admin/, metrics."""

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path


def health(request: HttpRequest) -> JsonResponse:
    """Liveness probe: answers without touching the database."""
    return JsonResponse({"status": "ok"})


# The back office (docs/back-office.md): named for its users, full width for wide lists.
admin.site.site_header = "Jackpot back office"
admin.site.site_title = "Jackpot back office"
admin.site.index_title = "Operators, catalogue, betcards, tickets"
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("be/", include("tickets.api.urls")),
    path("admin/", admin.site.urls),
    path("health", health, name="health"),
    path("", include("django_prometheus.urls")),
]
