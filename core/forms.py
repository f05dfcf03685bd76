"""Form pieces shared by the apps' list filters: a date range and the queryset it selects."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django import forms
from django.db.models import Model, QuerySet
from django.utils import timezone


class DateRangeForm(forms.Form):
    """A filter form ending in "From" and "To" dates (the end not before the start)."""

    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("since", "until"):  # after the subclass's own filters
            self.fields[name] = self.fields.pop(name)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if isinstance(since, date) and isinstance(until, date) and since > until:
            self.add_error("until", "The end date must not be before the start date.")
        return data


def within_dates[M: Model](
    queryset: QuerySet[M], since: date | None, until: date | None, field: str = "created_at"
) -> QuerySet[M]:
    """``queryset`` narrowed to ``field`` on or after ``since`` and on or before ``until``
    (whole days in the current time zone; either may be None)."""
    zone = timezone.get_current_timezone()
    # The first and last days there are bound nothing; their ends, moved to UTC for the query
    # (SQLite), can fall outside what a datetime holds: a 500 in a zone off UTC.
    if since and since > date.min:
        queryset = queryset.filter(**{f"{field}__gte": datetime.combine(since, time.min, zone)})
    if until and until < date.max:
        queryset = queryset.filter(**{f"{field}__lte": datetime.combine(until, time.max, zone)})
    return queryset
