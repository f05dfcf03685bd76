"""Forms of the directory pages: list filters, report filters, a report's subject."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django import forms

from directory import selectors
from directory.models import ReportKind


class ListFilterForm(forms.Form):
    """Search, and the column a live list is sorted by (kept in a hidden field of the results,
    so that filtering keeps the sort): "name", "-name" (descending), ...; anything else is the
    upstream's order."""

    search = forms.CharField(required=False, max_length=200, label="Search")
    sort = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)

    sorts: ClassVar[Mapping[str, Any]] = {}

    def clean_sort(self) -> str:
        value = self.cleaned_data.get("sort") or ""
        return value if selectors.parse_sort(value, self.sorts) else ""


class SiteFilterForm(ListFilterForm):
    sorts = selectors.SITE_SORTS


class GroupFilterForm(ListFilterForm):
    type = forms.ChoiceField(
        required=False, label="Type", choices=[("", "Any type"), *selectors.GROUP_TYPES]
    )
    ownerless = forms.BooleanField(
        required=False,
        label="Ownerless only",
        help_text="Groups with no owner, where the upstream counts owners.",
    )

    sorts = selectors.GROUP_SORTS

    field_order = ["search", "type", "ownerless", "sort"]


class RowFilterForm(forms.Form):
    """Filters of a report snapshot; the kind (and role) choices depend on the report."""

    search = forms.CharField(required=False, max_length=200, label="Search")
    kind = forms.ChoiceField(required=False, label="Kind")
    role = forms.ChoiceField(
        required=False, label="Role", choices=[("", "Owners and members"), *selectors.ROLES]
    )

    def __init__(self, *args: Any, report: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kind = self.fields["kind"]
        assert isinstance(kind, forms.ChoiceField)
        kind.choices = [("", "Any kind"), *selectors.ROW_KINDS[report]]
        if report == ReportKind.GROUP_MEMBERSHIPS:
            kind.label = "Member kind"
        else:
            del self.fields["role"]
            kind.label = "Principal" if report == ReportKind.SITE_PERMISSIONS else "Workspace type"

    def filters(self) -> dict[str, str]:
        if not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v}


class UserAccessForm(forms.Form):
    upn = forms.EmailField(
        label="User principal name (UPN)",
        max_length=254,
        widget=forms.EmailInput(
            attrs={"placeholder": "name@contoso.onmicrosoft.com", "autocomplete": "off"}
        ),
        error_messages={
            "invalid": "Enter a user principal name such as name@contoso.onmicrosoft.com."
        },
    )


# ReportRun.subject and subject_label hold this much.
SUBJECT_MAX = 500


class SiteForm(forms.Form):
    site = forms.URLField(
        required=False, max_length=SUBJECT_MAX, assume_scheme="https", label="Site URL"
    )
    # The group the site belongs to, when the link came from that group's row or page (the
    # upstream's site list names no group, so it is only known that way); shown as a link back.
    group = forms.CharField(required=False, max_length=SUBJECT_MAX, widget=forms.HiddenInput)


class RefreshForm(forms.Form):
    kind = forms.ChoiceField(choices=ReportKind.choices)
    subject = forms.CharField(required=False, max_length=SUBJECT_MAX)
    label = forms.CharField(required=False, max_length=SUBJECT_MAX)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, subject = data.get("kind"), (data.get("subject") or "").strip()
        if kind == ReportKind.USER_ACCESS:
            try:
                subject = forms.EmailField(max_length=254).clean(subject)
            except forms.ValidationError:
                self.add_error(
                    "subject", "Enter a user principal name such as name@contoso.onmicrosoft.com."
                )
        elif kind == ReportKind.SITE_PERMISSIONS and subject:
            try:
                subject = forms.URLField(assume_scheme="https").clean(subject)
            except forms.ValidationError:
                self.add_error("subject", "Enter a site URL.")
        if len(subject) > SUBJECT_MAX:
            # The site URL gains "https://" when typed without it: check what will be stored.
            self.add_error(
                "subject", f"At most {SUBJECT_MAX} characters; this one has {len(subject)}."
            )
        data["subject"] = subject
        return data
