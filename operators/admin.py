"""Back office for operators (contract.md § Who uses it; operations.md § create_operator).

Creating an operator and rotating its secret go through `operators.services`, and the plain
secret key is rendered once, in the answer to that POST (never stored in clear, never in a
message or the session, never shown again: the change form shows a placeholder).
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any
from zoneinfo import available_timezones

from django import forms
from django.contrib import admin, messages
from django.contrib.postgres.forms import SimpleArrayField
from django.core.exceptions import PermissionDenied
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from jackpot.admin_support import (
    RefusesProtectedDeleteAtOnce,
    action_fields,
    confirmation_page,
    is_confirmed,
    log_staff_action,
)
from jackpot.core import clock
from jackpot.core.errors import OperatorInvalid
from operators.models import Operator, SecretRotation
from operators.pam import PamAnswer, pam_post
from operators.services import (
    DEFAULT_GRACE,
    operator_create,
    operator_rotate_secret,
    setting_valid,
)

_GRACE_TEXT = f"{DEFAULT_GRACE.total_seconds() / 3600:g} hours"
SECRET_PLACEHOLDER = "••• (rotate to get a new one)"  # noqa: S105 - a label, not a key
SECRET_ONCE_TEMPLATE = "admin/operators/operator/secret_once.html"  # noqa: S105 - a template path
if TYPE_CHECKING:
    OperatorModelAdmin = admin.ModelAdmin[Operator]
else:
    OperatorModelAdmin = admin.ModelAdmin

_PERCENT_VALIDATORS = [MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))]
# Checked by the service's own rule (operators.services.setting_valid), so a value the form
# accepts is one operator_create accepts: an add is never a 500, an edit never stores less.
_SERVICE_CHECKED = (
    "webhook_url",
    "reservation_minutes",
    "rate_limit",
    "max_tickets_per_player",
    "max_daily_spend",
)


def test_webhook_body(operator: Operator) -> bytes:
    """`{"action":"test","data":{"operator":...,"sent_at":...}}`, compact like every webhook."""
    data = {"operator": operator.name, "sent_at": clock.format_utc(clock.now())}
    return json.dumps({"action": "test", "data": data}, separators=(",", ":")).encode()


def describe_answer(answer: PamAnswer) -> str:
    """One line for the staff member: outcome, HTTP status, latency and the start of the body."""
    status = f"HTTP {answer.http_status}" if answer.http_status is not None else "no answer"
    text = f"{answer.outcome} ({status}, {answer.latency_ms} ms)"
    if answer.error and answer.http_status is None:
        text += f": {answer.error}"
    if answer.excerpt:
        text += f"; body: {answer.excerpt[:200]}"
    return text


@cache
def timezone_choices() -> list[tuple[str, str]]:
    """Every IANA time zone name known to this Python, sorted (UTC first)."""
    names = sorted(available_timezones() - {"UTC"})
    return [("UTC", "UTC"), *((name, name) for name in names)]


class OperatorForm(ModelForm):  # type: ignore[type-arg]
    timezone = forms.ChoiceField(
        choices=timezone_choices,
        initial="UTC",
        help_text="IANA time zone of the operator's operator_time_* fields.",
    )
    webhook_url = forms.URLField(
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text="The PAM's URL; an operator without one cannot sell (code 114).",
    )
    currencies = SimpleArrayField(
        forms.CharField(
            max_length=3,
            validators=[RegexValidator(r"^[A-Z]{3}$", "Use ISO 4217 codes such as KES or USD.")],
        ),
        required=False,
        help_text="Comma-separated ISO 4217 codes, e.g. KES,USD. Empty: any currency.",
    )

    class Meta:
        model = Operator
        fields = [
            "name",
            "is_active",
            "webhook_url",
            "timezone",
            "currencies",
            "ext_percent",
            "ext_type",
            "wht_percent",
            "aff_comm_percent",
            "reservation_minutes",
            "rate_limit",
            "max_tickets_per_player",
            "max_daily_spend",
            "signing",
        ]
        help_texts = {
            "signing": "strict: the signature covers the exact bytes of the body (recommended); "
            "betstack: white space is removed from the body before signing.",
            "rate_limit": "Requests per second on /be/ and /bc/ together, counted across every "
            "web process and node; above it the API answers 429 (code 129). 0: no limit.",
            "max_tickets_per_player": "Reserved and open tickets one player (token) may hold "
            "on one betcard; one more is refused with code 130. Empty: no limit.",
            "max_daily_spend": "Cents one player (token) may spend per day in the operator's "
            "time zone, on tickets not cancelled (reservations count); a ticket that would go "
            "above is refused with code 131. Empty: no limit.",
            "reservation_minutes": "How long a reservation (pay later) waits to be paid; it "
            "also ends when its card stops selling.",
            "name": "Sent by the operator in the operator-name header; cannot be reused.",
            "ext_percent": "Excise percent, 0-100 (12.5 means 12.5 %).",
            "wht_percent": "Withholding tax on winnings, percent 0-100.",
            "aff_comm_percent": "Affiliate instant commission percent; empty when none.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("ext_percent", "wht_percent", "aff_comm_percent"):
            if name in self.fields:  # a clerk's read-only form has no editable fields
                self.fields[name].validators.extend(_PERCENT_VALIDATORS)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in _SERVICE_CHECKED:
            if name in cleaned:  # absent: read-only, or already refused by the field
                try:
                    cleaned[name] = setting_valid(name, cleaned[name])
                except OperatorInvalid as exc:
                    self.add_error(name, str(exc))
        return cleaned


@admin.register(Operator)
class OperatorAdmin(RefusesProtectedDeleteAtOnce, OperatorModelAdmin):
    form = OperatorForm
    list_display = [
        "name",
        "is_active",
        "webhook_url",
        "timezone",
        "currency_list",
        "ext_percent",
        "ext_type",
        "wht_percent",
        "aff_comm_percent",
        "updated_at",
    ]
    list_display_links = ["name"]
    list_filter = ["is_active", "ext_type"]
    search_fields = ["name"]
    ordering = ["name"]
    readonly_fields = ["secret_key_display", "secret_rotations", "created_at", "updated_at"]
    actions = ["send_test_webhook", "activate", "deactivate"]
    fieldsets = [
        (None, {"fields": ["name", "is_active", "secret_key_display", "signing"]}),
        ("Secret rotations", {"fields": ["secret_rotations"], "classes": ["collapse"]}),
        ("PAM", {"fields": ["webhook_url", "timezone", "currencies"]}),
        ("Taxes", {"fields": ["ext_percent", "ext_type", "wht_percent", "aff_comm_percent"]}),
        ("Pay later", {"fields": ["reservation_minutes"]}),
        ("Limits", {"fields": ["rate_limit", "max_tickets_per_player", "max_daily_spend"]}),
        ("History", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]
    add_fieldsets = [
        (None, {"fields": ["name", "is_active", "signing"]}),
        ("PAM", {"fields": ["webhook_url", "timezone", "currencies"]}),
        ("Taxes", {"fields": ["ext_percent", "ext_type", "wht_percent", "aff_comm_percent"]}),
        ("Pay later", {"fields": ["reservation_minutes"]}),
        ("Limits", {"fields": ["rate_limit", "max_tickets_per_player", "max_daily_spend"]}),
    ]

    # -------------------------------------------------------------------- display
    @admin.display(description="Rotations (newest first; keys are never shown again)")
    def secret_rotations(self, obj: Operator) -> str:
        rows = [
            f"{rotation.rotated_at:%Y-%m-%d %H:%M:%S} UTC by {rotation.rotated_by}, "
            f"old key valid until {rotation.grace_until:%Y-%m-%d %H:%M:%S} UTC"
            for rotation in SecretRotation.objects.filter(operator=obj)[:20]
        ]
        return "; ".join(rows) or "none"

    @admin.display(description="Currencies")
    def currency_list(self, obj: Operator) -> str:
        return ", ".join(obj.currencies) or "any"

    @admin.display(description="Secret key")
    def secret_key_display(self, obj: Operator) -> str:
        if obj.pk is None:
            return "Shown once, right after the operator is saved."
        return format_html(
            '{} <a class="button" href="{}">Rotate secret</a>',
            SECRET_PLACEHOLDER,
            reverse("admin:operators_operator_rotate_secret", args=[obj.pk]),
        )

    def get_fieldsets(self, request: HttpRequest, obj: Operator | None = None) -> Any:
        return self.add_fieldsets if obj is None else self.fieldsets

    # -------------------------------------------------------------------- creation
    def save_model(self, request: HttpRequest, obj: Operator, form: Any, change: bool) -> None:
        """Edits save as usual; a new operator is registered by `operator_create`.

        The changeform view runs this inside its transaction, so an inactive new operator is
        created and switched off atomically.
        """
        if change:
            super().save_model(request, obj, form, change)
            return
        data = form.cleaned_data
        created, secret = operator_create(
            name=data["name"],
            webhook_url=data["webhook_url"],
            timezone=data["timezone"],
            ext_percent=data["ext_percent"],
            ext_type=data["ext_type"],
            wht_percent=data["wht_percent"],
            currencies=data["currencies"],
            aff_comm_percent=data["aff_comm_percent"],
            reservation_minutes=data["reservation_minutes"],
            rate_limit=data["rate_limit"],
            max_tickets_per_player=data["max_tickets_per_player"],
            max_daily_spend=data["max_daily_spend"],
            signing=data["signing"],
        )
        if not data["is_active"]:
            created.is_active = False
            created.save(update_fields=["is_active", "updated_at"])
        obj.pk = created.pk
        obj.secret_key_encrypted = created.secret_key_encrypted
        obj.created_at, obj.updated_at = created.created_at, created.updated_at
        # Kept on this request's instance only, for response_add to render once.
        obj._plain_secret = secret  # type: ignore[attr-defined]

    def response_add(
        self, request: HttpRequest, obj: Operator, post_url_continue: str | None = None
    ) -> HttpResponse:
        return self._secret_once(request, obj, getattr(obj, "_plain_secret", ""), created=True)

    def _secret_once(
        self, request: HttpRequest, obj: Operator, secret: str, *, created: bool
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": f"Secret key of {obj.name}",
            "subtitle": None,
            "opts": self.opts,
            "original": obj,
            "secret": secret,
            "created": created,
            "change_url": reverse("admin:operators_operator_change", args=[obj.pk]),
        }
        response = TemplateResponse(request, SECRET_ONCE_TEMPLATE, context)
        # The page holds a live credential: no cache, no back-button copy.
        response["Cache-Control"] = "no-store, max-age=0"
        response["Pragma"] = "no-cache"
        return response

    # -------------------------------------------------------------------- custom views
    def get_urls(self) -> list[URLPattern]:
        custom = [
            path(
                "<int:object_id>/rotate-secret/",
                self.admin_site.admin_view(self.rotate_secret_view),
                name="operators_operator_rotate_secret",
            ),
            path(
                "<int:object_id>/test-webhook/",
                self.admin_site.admin_view(self.test_webhook_view),
                name="operators_operator_test_webhook",
            ),
        ]
        return custom + super().get_urls()

    def rotate_secret_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        operator = get_object_or_404(Operator, pk=object_id)
        if not self.has_change_permission(request, operator):
            raise PermissionDenied
        if not is_confirmed(request):
            return confirmation_page(
                request,
                model_admin=self,
                title=f"Rotate the secret key of {operator.name}",
                question=(
                    f"Issue a new secret key to {operator.name}? The current key keeps "
                    f"working for {_GRACE_TEXT} (webhooks carry a signature with each key), "
                    "then only the new one verifies. The new key is shown once."
                ),
                objects=[operator],
                submit_label="Yes, rotate the secret",
            )
        secret = operator_rotate_secret(
            operator=operator, rotated_by=request.user.get_username(), grace=DEFAULT_GRACE
        )
        log_staff_action(request, operator, f"Rotated the secret key ({_GRACE_TEXT} of grace).")
        return self._secret_once(request, operator, secret, created=False)

    def test_webhook_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        operator = get_object_or_404(Operator, pk=object_id)
        if not self.has_change_permission(request, operator):
            raise PermissionDenied
        if not is_confirmed(request):
            return confirmation_page(
                request,
                model_admin=self,
                title=f"Send a test webhook to {operator.name}",
                question=(
                    "POST a signed webhook with action “test” to "
                    f"{operator.webhook_url or '(no URL)'} and show what the PAM answers? "
                    "It moves no money."
                ),
                objects=[operator],
                submit_label="Send the test webhook",
            )
        self._send_test_webhook(request, operator)
        return HttpResponseRedirect(reverse("admin:operators_operator_change", args=[operator.pk]))

    def _send_test_webhook(self, request: HttpRequest, operator: Operator) -> PamAnswer:
        answer = pam_post(operator=operator, body=test_webhook_body(operator))
        report = describe_answer(answer)
        log_staff_action(request, operator, f"Sent a test webhook: {report}")
        level = messages.SUCCESS if answer.delivered else messages.ERROR
        self.message_user(request, f"Test webhook to {operator.name}: {report}", level)
        return answer

    # -------------------------------------------------------------------- actions
    @admin.action(description="Send a test webhook to selected operators", permissions=["change"])
    def send_test_webhook(
        self, request: HttpRequest, queryset: QuerySet[Operator]
    ) -> HttpResponse | None:
        operators = list(queryset)
        if not is_confirmed(request):
            return confirmation_page(
                request,
                model_admin=self,
                title="Send test webhooks",
                question="POST a signed “test” webhook to the PAM of each of these operators?",
                objects=operators,
                submit_label="Send the test webhooks",
                hidden=action_fields(request),
            )
        for operator in operators:
            self._send_test_webhook(request, operator)
        return None

    @admin.action(description="Activate selected operators", permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[Operator]) -> None:
        self._set_active(request, queryset, active=True)

    @admin.action(
        description="Deactivate selected operators (their requests get 403)",
        permissions=["change"],
    )
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Operator]) -> None:
        self._set_active(request, queryset, active=False)

    def _set_active(
        self, request: HttpRequest, queryset: QuerySet[Operator], *, active: bool
    ) -> None:
        changed = list(queryset.exclude(is_active=active))
        for operator in changed:
            operator.is_active = active
            operator.save(update_fields=["is_active", "updated_at"])
            self.log_change(request, operator, "Activated." if active else "Deactivated.")
        word = "activated" if active else "deactivated"
        self.message_user(request, f"{len(changed)} operator(s) {word}.", messages.SUCCESS)
