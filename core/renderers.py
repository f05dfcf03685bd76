"""The portal's form renderer: Django's own, with selects written in Python.

Django renders each option of a select through two template includes; a filter form's 50
options (every tenant, every state...) took 3-4 ms of a 20 ms list page (issue 18). This writes
the same HTML as django/forms/widgets/select.html, select_option.html and attrs.html, escaped the
same way (tests/portal/test_widgets.py compares them); widgets with another option template
keep Django's templates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.forms.renderers import DjangoTemplates
from django.http import HttpRequest
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

SELECT = "django/forms/widgets/select.html"
OPTION = "django/forms/widgets/select_option.html"


def _attrs(attrs: Mapping[str, Any]) -> str:
    """As attrs.html: False leaves the attribute out, True writes its name alone."""
    return "".join(
        f" {conditional_escape(name)}"
        + ("" if value is True else f'="{conditional_escape(str(value))}"')
        for name, value in attrs.items()
        if value is not False
    )


def _option(option: Mapping[str, Any]) -> str:
    value = conditional_escape(str(option["value"]))
    return f'\n  <option value="{value}"{_attrs(option["attrs"])}>{conditional_escape(option["label"])}</option>'


def render_select(widget: Mapping[str, Any]) -> SafeString:
    parts = [f'<select name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, options, _ in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
        parts.extend(_option(option) for option in options)
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    # Every value above went through conditional_escape (bandit B308, B703).
    return mark_safe("".join(parts))  # nosec B308 B703


class FormRenderer(DjangoTemplates):
    def render(
        self, template_name: str, context: dict[str, Any], request: HttpRequest | None = None
    ) -> str:
        widget = context.get("widget")
        if template_name == SELECT and widget is not None:
            options = [o for _, group, _ in widget["optgroups"] for o in group]
            if all(o.get("template_name") == OPTION for o in options):
                return render_select(widget)
        return super().render(template_name, context, request)
