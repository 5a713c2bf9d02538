"""The back office's two staff groups and their permissions.

- `clerk`: reads everything in the engine's admin, changes nothing.
- `manager`: runs the jackpot: operators, the catalogue, betcards and their results,
  cancelling tickets and retrying webhooks. Tickets, selections, deliveries, attempts,
  settlement rounds and the result audit stay read-only for everyone (they are only ever
  changed by the engine's services).

Created by the migration `tickets.0003_admin_staff_groups`; `manage.py sync_staff_groups`
re-applies the same definition after models are added. Works with the historical app
registry of a migration as well as the live one, so it refers to models by label only.
"""

from __future__ import annotations

from typing import Any

from django.apps.registry import Apps
from django.contrib.auth.management import create_permissions
from django.db.models import Q

CLERK = "clerk"
MANAGER = "manager"
ENGINE_APPS = ("operators", "betcards", "tickets")

# model label -> the actions a manager may take on it besides viewing.
MANAGER_ACTIONS: dict[str, tuple[str, ...]] = {
    "operators.operator": ("add", "change"),
    "betcards.team": ("add", "change", "delete"),
    "betcards.event": ("add", "change", "delete"),
    "betcards.bookmakerevent": ("add", "change", "delete"),
    "betcards.market": ("add", "change", "delete"),
    "betcards.bet": ("add", "change", "delete"),
    "betcards.betcard": ("add", "change", "delete"),
    "betcards.betcardevent": ("add", "change", "delete"),
}
MANAGER_EXTRA = (
    "tickets.cancel_ticket",
    "tickets.retry_webhookdelivery",
)


def staff_groups_sync(apps: Apps | Any) -> None:
    """Create or update both groups so they hold exactly the permissions defined above."""
    for app_config in apps.get_app_configs():
        # Permissions are normally created after `migrate`; make sure they exist now.
        if not getattr(app_config, "models_module", None):
            app_config.models_module = True  # a migration's stub: let create_permissions run
        create_permissions(app_config, apps=apps, verbosity=0)
    permission_model = apps.get_model("auth", "Permission")
    group_model = apps.get_model("auth", "Group")
    engine = permission_model.objects.filter(content_type__app_label__in=ENGINE_APPS)

    views = engine.filter(codename__startswith="view_")
    edits = Q()
    for label, actions in MANAGER_ACTIONS.items():
        app_label, model = label.split(".")
        edits |= Q(
            content_type__app_label=app_label,
            content_type__model=model,
            codename__in=[f"{action}_{model}" for action in actions],
        )
    for label in MANAGER_EXTRA:
        app_label, codename = label.split(".")
        edits |= Q(content_type__app_label=app_label, codename=codename)

    clerk, _ = group_model.objects.get_or_create(name=CLERK)
    clerk.permissions.set(list(views))
    manager, _ = group_model.objects.get_or_create(name=MANAGER)
    manager.permissions.set(list(views) + list(engine.filter(edits)))


def staff_groups_remove(apps: Apps | Any) -> None:
    apps.get_model("auth", "Group").objects.filter(name__in=[CLERK, MANAGER]).delete()
