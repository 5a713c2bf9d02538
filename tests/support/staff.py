"""Logged-in admin clients, one per kind of staff member (a plugin of tests/conftest.py:
the back-office tests and the tests of what staff changes use them alike)."""

from __future__ import annotations

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, User
from django.test import Client

from jackpot.staff_groups import CLERK, MANAGER, staff_groups_sync

PASSWORD = "back-office-password-1"


def staff_user(username: str, *, group: str | None = None, superuser: bool = False) -> User:
    if superuser:
        return User.objects.create_superuser(username, f"{username}@example.com", PASSWORD)
    user = User.objects.create_user(username, f"{username}@example.com", PASSWORD, is_staff=True)
    if group:
        if not Group.objects.filter(name=group).exists():
            # A transactional test flushed the migration's rows: make the groups again.
            staff_groups_sync(django_apps)
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def superuser(db: None) -> User:
    return staff_user("root", superuser=True)


@pytest.fixture
def admin_client(superuser: User) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


@pytest.fixture
def manager(db: None) -> User:
    return staff_user("manny", group=MANAGER)


@pytest.fixture
def manager_client(manager: User) -> Client:
    client = Client()
    client.force_login(manager)
    return client


@pytest.fixture
def clerk(db: None) -> User:
    return staff_user("clara", group=CLERK)


@pytest.fixture
def clerk_client(clerk: User) -> Client:
    client = Client()
    client.force_login(clerk)
    return client
