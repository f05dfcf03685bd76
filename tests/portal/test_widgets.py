"""The portal's form renderer (core/renderers.py) writes selects exactly as Django's own
templates do, only faster."""

from __future__ import annotations

import re

from django import forms
from django.forms.renderers import DjangoTemplates

from core.renderers import FormRenderer


class Choices(forms.Form):
    plain = forms.ChoiceField(choices=[("", "Any"), ("a", "A & <b>"), ("b", 'Say "b"')])
    grouped = forms.ChoiceField(choices=[("Group <1>", [("x", "X"), ("y", "Y")]), ("z", "Z")])
    many = forms.MultipleChoiceField(choices=[("1", "One"), ("2", "Two"), ("3", "Three")])
    sized = forms.ChoiceField(
        choices=[("a", "A")], widget=forms.Select(attrs={"class": "wide", "disabled": True})
    )


def squeezed(html: str) -> str:
    return re.sub(r">\s+<", "><", html.strip())


def test_select_fields_render_exactly_as_djangos_own_template_does() -> None:
    form = Choices(data={"plain": "a", "grouped": "y", "many": ["1", "3"], "sized": "a"})
    for name in form.fields:
        ours = form[name].as_widget()
        form.renderer = DjangoTemplates()  # Django's templates only, no project overrides
        theirs = form[name].as_widget()
        form.renderer = FormRenderer()
        assert squeezed(ours) == squeezed(theirs), name
        assert "<option" in ours


def test_option_labels_and_values_are_escaped() -> None:
    html = Choices(data={"plain": "a"})["plain"].as_widget()
    assert "A &amp; &lt;b&gt;" in html and "Say &quot;b&quot;" in html
    assert '<option value="a" selected>' in html
