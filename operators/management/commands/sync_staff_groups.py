"""`manage.py sync_staff_groups`: (re)create the back office's `clerk` and `manager` groups.

The migration `tickets.0003_admin_staff_groups` creates them; run this after adding models so
the groups hold the new models' permissions too (jackpot/staff_groups.py defines them).
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand

from jackpot.staff_groups import CLERK, MANAGER, staff_groups_sync


class Command(BaseCommand):
    help = "Create or update the clerk (read-only) and manager staff groups."

    def handle(self, *args: Any, **options: Any) -> None:
        staff_groups_sync(apps)
        self.stdout.write(f"groups {CLERK!r} and {MANAGER!r} are up to date")
