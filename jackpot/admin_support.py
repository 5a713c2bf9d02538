"""Helpers shared by the back office's admin classes (contract.md § Who uses it: staff).

Every custom staff action (rotate a secret, cancel a ticket, settle a card...) is confirmed on
a page of its own before it runs and leaves a row in Django's admin log; these helpers give
all of them the same confirmation page, the same log entry and the same money formatting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.utils import unquote
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import ForeignObjectRel, Model, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse

CONFIRM_TEMPLATE = "admin/jackpot/confirm.html"
_BIGINT_DIGITS = 18  # any run of up to 18 digits fits a bigint
_M = TypeVar("_M", bound=Model)
_T = TypeVar("_T")

Hidden = Mapping[str, str | Iterable[str]]
"""Form fields a confirmation page posts back (see `confirmation_page`)."""


def format_cents(cents: int | None, currency: str = "") -> str:
    """`123456, "USD"` → `1,234.56 USD`; None (no tickets yet) → `0.00`."""
    value = cents or 0
    sign = "-" if value < 0 else ""
    whole, part = divmod(abs(value), 100)
    text = f"{sign}{whole:,}.{part:02d}"
    return f"{text} {currency}".strip()


def log_staff_action(request: HttpRequest, obj: Model, message: str) -> LogEntry:
    """Record a custom staff action on `obj` in the admin log (shown in its History page)."""
    return LogEntry.objects.log_actions(
        user_id=_staff_id(request),
        queryset=[obj],
        action_flag=CHANGE,
        change_message=message,
        single_object=True,
    )


def log_staff_actions(request: HttpRequest, objects: Iterable[Model], message: str) -> None:
    """The same entry on several objects (one row each), e.g. after a bulk action."""
    items = list(objects)
    if items:
        LogEntry.objects.log_actions(
            user_id=_staff_id(request), queryset=items, action_flag=CHANGE, change_message=message
        )


def _staff_id(request: HttpRequest) -> int:
    user_id = request.user.pk
    if not isinstance(user_id, int):
        raise TypeError("staff actions are logged for a logged-in staff member only")
    return user_id


def confirmation_page(
    request: HttpRequest,
    *,
    model_admin: admin.ModelAdmin[Any],
    title: str,
    question: str,
    objects: Iterable[object],
    submit_label: str,
    hidden: Hidden | None = None,
    reason_label: str = "",
    checkbox_label: str = "",
    warning: str = "",
) -> TemplateResponse:
    """A page that asks the staff member to confirm an action before it runs.

    The form posts back to the same URL with `confirmed=yes` and the `hidden` fields (for a
    changelist action: `action` and every `_selected_action`). With `reason_label` the page
    also asks for a reason, posted as `reason`, which the action must record; with
    `checkbox_label` it offers one checkbox, posted as `checked=on`.
    """
    fields: list[tuple[str, str]] = []
    for name, value in (hidden or {}).items():
        values = [value] if isinstance(value, str) else list(value)
        fields.extend((name, item) for item in values)
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "subtitle": None,
        "question": question,
        "objects": list(objects),
        "submit_label": submit_label,
        "hidden_fields": fields,
        "reason_label": reason_label,
        "checkbox_label": checkbox_label,
        "warning": warning,
        "opts": opts,
        "app_label": opts.app_label,
        "ContentType": ContentType,
    }
    return TemplateResponse(request, CONFIRM_TEMPLATE, context)


def action_fields(request: HttpRequest) -> dict[str, str | list[str]]:
    """A changelist action's own POST fields, so its confirmation page posts the same action
    (on the same selection, or on everything the filters match) back to the changelist."""
    fields: dict[str, str | list[str]] = {
        "action": request.POST.get("action", ""),
        "_selected_action": request.POST.getlist("_selected_action"),
        "index": request.POST.get("index", "0"),
    }
    if request.POST.get("select_across"):
        fields["select_across"] = request.POST["select_across"]
    return fields


def is_confirmed(request: HttpRequest) -> bool:
    return request.method == "POST" and request.POST.get("confirmed") == "yes"


class Ask(Protocol[_T]):
    """Builds an action's confirmation page (usually with `confirmation_page`)."""

    def __call__(
        self, request: HttpRequest, objects: list[_T], /, *, hidden: Hidden
    ) -> HttpResponse: ...


Run = Callable[[HttpRequest, list[_T]], None]
"""Runs a confirmed action (calls the service, logs, tells the staff member)."""


def object_action(
    request: HttpRequest, obj: _T, *, allowed: bool, ask: Ask[_T], run: Run[_T], back: str
) -> HttpResponse:
    """A staff action from one object's page: refused without permission, asked first, then
    run, then back to `back` (the object's page)."""
    if not allowed:
        raise PermissionDenied
    if not is_confirmed(request):
        return ask(request, [obj], hidden={})
    run(request, [obj])
    return HttpResponseRedirect(back)


def bulk_action(
    request: HttpRequest, objects: list[_T] | None, *, ask: Ask[_T], run: Run[_T]
) -> HttpResponse | None:
    """A changelist action on the selected `objects` (None: the selection was refused, e.g.
    too large, and said so): asked first, the confirmation posting the same action back,
    then run."""
    if objects is None:
        return None
    if not is_confirmed(request):
        return ask(request, objects, hidden=action_fields(request))
    run(request, objects)
    return None


def search_by_number_or_text(
    queryset: QuerySet[_M], term: str, *, numbers: Iterable[str], texts: Iterable[str] = ()
) -> tuple[QuerySet[_M], bool]:
    """An admin search that never sends a word to an integer column (Django's `=id` would).

    A term of digits matches the `numbers` lookups exactly (and the `texts` ones too); any
    other term matches the `texts` lookups case-insensitively. Only to-one lookups are
    given, so the answer needs no DISTINCT (the second item, as `get_search_results` wants).
    """
    term = term.strip()
    if not term:
        return queryset, False
    query = Q()
    if term.isdigit() and len(term) <= _BIGINT_DIGITS:
        for lookup in numbers:
            query |= Q(**{lookup: int(term)})
    for lookup in texts:
        query |= Q(**{f"{lookup}__icontains": term})
    if not query:
        return queryset.none(), False
    return queryset.filter(query), False


class MalformedObjectIdIs404:
    """Middleware: an admin URL whose object id cannot be an id of its model is a 404.

    Django's own pages catch a mistyped id but not a NUL, which PostgreSQL cannot hold
    (psycopg's DataError: a 500 on `/admin/tickets/ticket/%00/change/`), and the custom
    object pages (cancel, settle, retry...) look their object up directly. Checked here
    once for every admin object URL, before its view runs, with the model's own primary
    key field.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> None:
        object_id = view_kwargs.get("object_id", view_kwargs.get("id"))
        if not isinstance(object_id, str):
            return
        if any(character < " " or character == "\x7f" for character in unquote(object_id)):
            raise Http404("No such object.")
        model_admin = _model_admin_of(view_func)
        if model_admin is None:
            return
        try:
            model_admin.model._meta.pk.to_python(unquote(object_id))
        except ValidationError:
            raise Http404("No such object.") from None


def _model_admin_of(view_func: Callable[..., Any]) -> admin.ModelAdmin[Any] | None:
    """The ModelAdmin behind an admin view: `model_admin` on Django's own object views,
    the bound method's owner under `admin_site.admin_view` (custom views)."""
    current: Any = view_func
    while current is not None:
        found = getattr(current, "model_admin", None) or getattr(current, "__self__", None)
        if isinstance(found, admin.ModelAdmin):
            return found
        current = getattr(current, "__wrapped__", None)
    return None


_PROTECTING = (models.PROTECT, models.RESTRICT)


def first_protecting_rows(obj: Model, *, depth: int = 3) -> str | None:
    """The plural name of the first kind of row that forbids deleting `obj` (a PROTECT or
    RESTRICT reference to it, or to a row a delete would cascade to, up to `depth` levels),
    or None. One EXISTS query per relation, on the references' indexes: what Django's
    collector would find only after loading every related row (a million tickets)."""
    return _protecting(type(obj), "", obj, depth)


def _protecting(model: type[Model], path: str, obj: Model, depth: int) -> str | None:
    # include_hidden: references declared with related_name="+" (selections' event and bet)
    for relation in model._meta.get_fields(include_hidden=True):
        if not isinstance(relation, ForeignObjectRel) or relation.many_to_many:
            continue
        field = relation.field
        related = relation.related_model
        lookup = f"{field.name}__{path}" if path else field.name
        on_delete = field.remote_field.on_delete
        if on_delete in _PROTECTING:
            if related._base_manager.filter(**{lookup: obj}).exists():
                return str(related._meta.verbose_name_plural)
        elif on_delete is models.CASCADE and depth > 1:
            found = _protecting(related, lookup, obj, depth - 1)
            if found is not None:
                return found
    return None


class RefusesProtectedDeleteAtOnce:
    """ModelAdmin mixin: the delete page (and the bulk delete action) of a row that tickets,
    selections or any other protected rows point at says so at once, instead of listing
    every related row first (404 ms at 1,400 tickets, unbounded at a million)."""

    def get_deleted_objects(
        self, objs: Iterable[Model], request: HttpRequest
    ) -> tuple[list[Any], dict[Any, Any], set[Any], list[Any]]:
        objects = list(objs)
        for obj in objects:
            rows = first_protecting_rows(obj)
            if rows is not None:
                return [], {}, set(), [f"{obj}: has {rows}, cannot be deleted"]
        return super().get_deleted_objects(objects, request)  # type: ignore[misc,no-any-return]
