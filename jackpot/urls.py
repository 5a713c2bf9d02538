"""URL wiring: the operator APIs under /be/ (Bet Engine) and /bc/ (Bet Card), the back
office under /admin/, probes, metrics."""

from django.contrib import admin
from django.urls import include, path

from jackpot import probes

# The back office (docs/back-office.md): named for its users, full width for wide lists.
admin.site.site_header = "Jackpot back office"
admin.site.site_title = "Jackpot back office"
admin.site.index_title = "Operators, catalogue, betcards, tickets"
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("be/", include("tickets.api.urls")),
    path("bc/", include("betcards.api.urls")),
    path("admin/", admin.site.urls),
    path("health", probes.health, name="health"),
    path("ready", probes.ready, name="ready"),
    path("metrics", probes.metrics, name="metrics"),
]
handler500 = "jackpot.api.exceptions.server_error"
