"""Forms of the sign-in pages."""

from __future__ import annotations

from django import forms


class SignInStartForm(forms.Form):
    """The organisation chosen on the sign-in page (and where to go afterwards).

    A form, so that odd input (a NUL byte, which PostgreSQL refuses in a query) is a
    validation error instead of a database error."""

    tenant = forms.SlugField(max_length=50)
    next = forms.CharField(required=False, max_length=2000)
