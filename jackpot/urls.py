"""URL wiring: the operator API under /be/, the back office under /admin/, metrics."""

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path


def health(request: HttpRequest) -> JsonResponse:
    """Liveness probe: answers without touching the database."""
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("be/", include("tickets.api.urls")),
    path("admin/", admin.site.urls),
    path("health", health, name="health"),
    path("", include("django_prometheus.urls")),
]
