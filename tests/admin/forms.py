"""Build the POST data a browser would send for an admin change form as it was rendered."""

from __future__ import annotations

from typing import Any

from django.forms import BaseForm, MultiWidget
from django.test.client import Client


def _form_fields(form: BaseForm) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for bound in form:
        if bound.field.disabled:
            continue
        value = bound.value()
        widget = bound.field.widget
        if hasattr(widget, "bets"):  # the odds widget posts one input per bet
            for bet in widget.bets:
                data[f"{bound.html_name}_{bet.pk}"] = str((value or {}).get(bet.pk, bet.odds))
            continue
        if value is None:
            continue
        if isinstance(widget, MultiWidget):
            parts = widget.decompress(value) if not isinstance(value, list) else value
            for index, (sub, part) in enumerate(zip(widget.widgets, parts, strict=True)):
                data[f"{bound.html_name}{widget.widgets_names[index]}"] = sub.format_value(part)
            continue
        if isinstance(value, bool):
            if value:
                data[bound.html_name] = "on"
            continue
        value = bound.field.prepare_value(value)
        if isinstance(value, list | tuple):
            data[bound.html_name] = [str(v) for v in value]
            continue
        data[bound.html_name] = (
            widget.format_value(value) if hasattr(widget, "format_value") else value
        )
        if bound.field.show_hidden_initial:  # rendered as a hidden input next to the field
            data[bound.html_initial_name] = data[bound.html_name]
    return data


def change_form_data(client: Client, url: str) -> dict[str, Any]:
    """GET an admin add/change page and return its form and inline formsets as POST data."""
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    context = response.context
    data = _form_fields(context["adminform"].form)
    for inline in context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(
            {
                bound.html_name: bound.value()
                for bound in formset.management_form
                if bound.value() is not None
            }
        )
        for form in formset.forms:
            data.update(_form_fields(form))
    return {k: ("" if v is None else v) for k, v in data.items()}
