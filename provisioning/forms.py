"""Request forms shaped by a template's rules, and the filters of the request lists."""

from __future__ import annotations

import re
import uuid
from datetime import date
from decimal import Decimal
from typing import Any, Self

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from core.forms import DateRangeForm
from core.http import PortalRequest
from provisioning import naming
from provisioning.models import ProvisioningRequest, Template, Workload
from provisioning.payload import RequestData, metadata_form_field
from provisioning.selectors import QUEUE_LABELS
from provisioning.states import State
from tenants import people
from tenants.models import Tenant
from tenants.selectors import tenants_for_user
from upstreams.contract import MetadataField, Privacy

LIST_SPLIT = re.compile(r"[\s,;]+")
SUBMISSION_KEY = re.compile(r"^[0-9a-f]{32}$")
YES_NO = [("", "—"), ("yes", "Yes"), ("no", "No")]


is_guest = people.is_guest


def parse_upns(text: str) -> list[str]:
    """One UPN per line or comma-separated; duplicates (case-insensitive) dropped, order kept."""
    seen: set[str] = set()
    out: list[str] = []
    for part in LIST_SPLIT.split(text or ""):
        if part and part.lower() not in seen:
            seen.add(part.lower())
            out.append(part)
    return out


def check_upn(value: str) -> None:
    try:
        validate_email(value)
    except ValidationError:
        raise ValidationError(f"“{value}” is not a valid user name (name@domain).") from None


# A date field named like this is an end (of a project, a retention): never in the past.
END_DATE_WORDS = ("end", "expir", "until", "due", "deadline", "closing", "retire", "sunset")
# Numbers a template asks for (budgets, head counts, cost centres) are never negative.
NUMBER_MAX = Decimal(10) ** 12
# The longest final name (prefix, name and suffix) a request stores.
FINAL_NAME_MAX = ProvisioningRequest._meta.get_field("final_name").max_length or 300


def is_end_date(name: str) -> bool:
    words = re.findall(r"[a-z]+", name.lower())
    return any(word.startswith(END_DATE_WORDS) for word in words)


def _plausible_date(value: date) -> None:
    if not 1900 <= value.year <= 2200:
        raise ValidationError("Enter a date between the years 1900 and 2200.")


def _not_past(value: date) -> None:
    if value < timezone.localdate():
        raise ValidationError("An end date cannot be in the past: choose today or later.")


def _metadata_field(spec: MetadataField) -> forms.Field:
    label = spec.name
    if spec.kind == "people":
        return forms.CharField(
            label=label,
            required=spec.required,
            max_length=256,
            validators=[check_upn],
            widget=forms.TextInput(attrs={"inputmode": "email", "autocomplete": "off"}),
            help_text="A user name, e.g. name@contoso.com.",
        )
    if spec.kind == "date":
        if is_end_date(spec.name):
            today = timezone.localdate().isoformat()
            return forms.DateField(
                label=label,
                required=spec.required,
                validators=[_plausible_date, _not_past],
                widget=forms.DateInput(attrs={"type": "date", "min": today}),
                help_text="Today or later.",
            )
        return forms.DateField(
            label=label,
            required=spec.required,
            validators=[_plausible_date],
            widget=forms.DateInput(attrs={"type": "date"}),
        )
    if spec.kind == "dropdown":
        return forms.ChoiceField(
            label=label,
            required=spec.required,
            choices=[("", "—"), *[(o, o) for o in spec.options]],
        )
    if spec.kind == "yesno":
        return forms.ChoiceField(label=label, required=spec.required, choices=YES_NO)
    if spec.kind == "number":
        return forms.DecimalField(
            label=label,
            required=spec.required,
            max_digits=20,
            decimal_places=6,
            min_value=0,
            max_value=NUMBER_MAX,
            widget=forms.NumberInput(attrs={"min": "0"}),
        )
    return forms.CharField(label=label, required=spec.required, max_length=1000)


def _metadata_json(kind: str, value: Any) -> Any:
    """A cleaned metadata value as JSON (None when left empty)."""
    if value in (None, ""):
        return None
    if kind == "yesno":
        return value == "yes"
    if kind == "date" and isinstance(value, date):
        return value.isoformat()
    if kind == "number" and isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _metadata_initial(kind: str, value: Any) -> Any:
    if kind == "yesno" and isinstance(value, bool):
        return "yes" if value else "no"
    return value


class RequestForm(forms.Form):
    """One workspace request; the fields follow the template (URL, privacy, metadata)."""

    display_name = forms.CharField(label="Name", max_length=256)
    desired_url = forms.CharField(
        label="URL and alias",
        max_length=100,
        required=False,
        help_text="Letters, digits, - and _. Leave empty to use the name.",
    )
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    is_private = forms.ChoiceField(
        label="Privacy",
        required=True,
        choices=[
            ("private", "Private: only members can see it"),
            ("public", "Public: anyone in the organisation can join"),
        ],
    )
    owners = forms.CharField(
        label="Owners",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text="One user name per line, or separated by commas.",
    )
    members = forms.CharField(
        label="Members",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text="One user name per line, or separated by commas.",
    )
    comment = forms.CharField(
        label="Comment for the approver",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    # One form, one request: the key travels with every POST of this form (services.request_submit_once).
    submission_key = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        template: Template,
        upstream_errors: dict[str, list[str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.template = template
        self.rules = template.template_rules
        self.upstream_errors = upstream_errors or {}
        self.people_warnings: dict[str, list[str]] = {}
        if self.rules.url is None or not self.rules.url.editable:
            del self.fields["desired_url"]
        if self.rules.privacy != Privacy.REQUESTER:
            del self.fields["is_private"]
        if not self.rules.comments:
            del self.fields["comment"]
        elif template.approval == Template.Approval.AUTOMATIC:
            # Nobody approves these: the comment is only kept with the request.
            self.fields["comment"].label = "Comment"
        self.metadata_fields: dict[str, MetadataField] = {}
        for spec in self.rules.metadata:
            name = metadata_form_field(spec.name)
            self.fields[name] = _metadata_field(spec)
            self.metadata_fields[name] = spec
        owners = self.fields["owners"]
        # Required (and marked so) when the template's own owners do not reach its minimum.
        owners.required = self.rules.owners_min > len(self.rules.owners_predefined)
        bounds = self._owner_bounds_text()
        if bounds:
            owners.help_text = f"{owners.help_text} {bounds}"
        if not self.rules.guests_as_members:
            self.fields["members"].help_text += " Guests cannot be members of this workspace."
        self.fields["display_name"].widget.attrs.update({"autocomplete": "off"})

    # --- presentation -------------------------------------------------------------------------

    def _owner_bounds_text(self) -> str:
        parts = []
        predefined = self.rules.owners_predefined
        if predefined:
            parts.append(f"Already owners by the template: {', '.join(predefined)}.")
        low, high = self.rules.owners_min, self.rules.owners_max
        if low and high:
            parts.append(f"{low} to {high} owners in all.")
        elif low:
            parts.append(f"At least {low} owner{'s' if low != 1 else ''} in all.")
        elif high:
            parts.append(f"At most {high} owners in all.")
        parts.append("Guests cannot be owners.")
        return " ".join(parts)

    @property
    def fixed_privacy(self) -> str:
        """The privacy the template sets (shown read-only), or "" when the requester decides."""
        return {Privacy.PRIVATE: "Private", Privacy.PUBLIC: "Public"}.get(self.rules.privacy, "")

    def rows(self, names: list[str]) -> list[tuple[forms.BoundField, list[str]]]:
        """Bound fields with the upstream's errors of a failed request ("Fix and resubmit")."""
        return [
            (self[name], self.upstream_errors.get(name, []))
            for name in names
            if name in self.fields
        ]

    def workspace_rows(self) -> list[tuple[forms.BoundField, list[str]]]:
        return self.rows(["display_name", "desired_url", "description", "is_private"])

    def people_rows(self) -> list[tuple[forms.BoundField, list[str]]]:
        return self.rows(["owners", "members"])

    def metadata_rows(self) -> list[tuple[forms.BoundField, list[str]]]:
        return self.rows(list(self.metadata_fields))

    def comment_rows(self) -> list[tuple[forms.BoundField, list[str]]]:
        return self.rows(["comment"])

    def general_upstream_errors(self) -> list[str]:
        return [
            m
            for key, messages in self.upstream_errors.items()
            if key not in self.fields
            for m in messages
        ]

    # --- validation ---------------------------------------------------------------------------

    def clean_submission_key(self) -> str:
        value = str(self.cleaned_data.get("submission_key") or "")
        return value if SUBMISSION_KEY.match(value) else ""

    def clean_display_name(self) -> str:
        value = str(self.cleaned_data["display_name"]).strip()
        if not value:
            raise ValidationError("Enter a name.")
        return value

    def clean_desired_url(self) -> str:
        value = str(self.cleaned_data.get("desired_url") or "").strip()
        if value and not naming.URL_CORE.match(value):
            raise ValidationError("Use only letters, digits, - and _ (no spaces).")
        return value

    def _upns(self, name: str) -> list[str]:
        upns = parse_upns(str(self.cleaned_data.get(name) or ""))
        bad = []
        for upn in upns:
            try:
                check_upn(upn)
            except ValidationError as error:
                bad.extend(error.messages)
        if bad:
            raise ValidationError(bad)
        return upns

    def clean_owners(self) -> list[str]:
        owners = self._upns("owners")
        guests = [o for o in owners if is_guest(o)]
        if guests:
            raise ValidationError(f"Guests cannot be owners: {', '.join(guests)}.")
        predefined = {p.lower() for p in self.rules.owners_predefined}
        total = len(predefined) + len([o for o in owners if o.lower() not in predefined])
        low, high = self.rules.owners_min, self.rules.owners_max
        counted = " (counting the template's own owners)" if predefined else ""
        if total < low:
            raise ValidationError(
                f"This template needs at least {low} owner{'s' if low != 1 else ''}{counted}; there are {total}."
            )
        if high is not None and total > high:
            raise ValidationError(
                f"This template allows at most {high} owners{counted}; there are {total}."
            )
        return self._people_checked("owners", owners)

    def clean_members(self) -> list[str]:
        members = self._upns("members")
        if not self.rules.guests_as_members:
            guests = [m for m in members if is_guest(m)]
            if guests:
                raise ValidationError(
                    f"This template does not allow guests as members: {', '.join(guests)}."
                )
        return self._people_checked("members", members)

    def _people_checked(self, name: str, upns: list[str]) -> list[str]:
        """The preflight of tenants.people: what would fail is an error next to the field,
        someone not seen yet in the tenant a warning (the snapshots may be old)."""
        findings = people.check(self.template.tenant, upns, owners=name == "owners")
        blocking = [f"{f.upn}: {f.reason}." for f in findings if f.blocking]
        if blocking:
            raise ValidationError(blocking)
        self.people_warnings[name] = [f"{f.upn}: {f.reason}." for f in findings]
        return upns

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        name = data.get("display_name")
        if name and "desired_url" not in self.errors:
            names = naming.final_names(
                self.template.template_rules, name, data.get("desired_url", "")
            )
            field = "desired_url" if "desired_url" in self.fields else "display_name"
            if self.template.template_rules.url is not None and not names.url_slug:
                self.add_error(
                    field,
                    "This name has no letter or digit a web address can hold: type the address "
                    "(letters, digits, - and _).",
                )
            elif names.url_too_long:
                self.add_error(
                    field,
                    f"The URL would be {len(names.url_slug or '')} characters; at most {names.url_max_length}.",
                )
            if len(names.display_name) > FINAL_NAME_MAX:
                # The template's prefix and suffix count too (a 500 on PostgreSQL otherwise).
                self.add_error(
                    "display_name",
                    f"With the template's prefix and suffix the name would be "
                    f"{len(names.display_name)} characters; at most {FINAL_NAME_MAX}.",
                )
        return data

    def to_request_data(self) -> RequestData:
        data = self.cleaned_data
        privacy = data.get("is_private")
        return RequestData(
            display_name=data["display_name"],
            description=str(data.get("description") or "").strip(),
            desired_url=data.get("desired_url", ""),
            is_private=None if not privacy else privacy == "private",
            owners=list(data["owners"]),
            members=list(data["members"]),
            metadata={
                spec.name: _metadata_json(spec.kind, data.get(name))
                for name, spec in self.metadata_fields.items()
                if data.get(name) not in (None, "")
            },
            comment=str(data.get("comment") or "").strip(),
        )


def initial_for(
    template: Template, *, requester_upn: str, data: RequestData | None = None
) -> dict[str, Any]:
    """The form's starting values: the requester as owner, or a earlier request's answers (clone),
    and a new submission key (each form shown is one request at most)."""
    key = uuid.uuid4().hex
    if data is None:
        predefined = {p.lower() for p in template.template_rules.owners_predefined}
        return {
            "owners": "" if requester_upn.lower() in predefined else requester_upn,
            "submission_key": key,
        }
    initial: dict[str, Any] = {
        "submission_key": key,
        "display_name": data.display_name,
        "description": data.description,
        "desired_url": data.desired_url,
        "owners": "\n".join(data.owners),
        "members": "\n".join(data.members),
        "comment": data.comment,
    }
    if data.is_private is not None:
        initial["is_private"] = "private" if data.is_private else "public"
    for spec in template.template_rules.metadata:
        value = data.metadata.get(spec.name)
        if value is not None:
            initial[metadata_form_field(spec.name)] = _metadata_initial(spec.kind, value)
    return initial


class TenantFilter(forms.Form):
    """A filter by tenant, offering the tenants the person serves (``tenants=``)."""

    @classmethod
    def for_request(cls, request: PortalRequest) -> Self:
        """The filters asked for, among the person's tenants; the tenant is the one chosen in
        the header until the person picks another (or "Any tenant")."""
        data = request.GET.copy()
        if "tenant" not in data and request.tenant is not None:
            data["tenant"] = str(request.tenant.pk)
        return cls(data, tenants=tenants_for_user(request.user).order_by("name"))

    tenant = forms.ModelChoiceField(
        queryset=Tenant.objects.none(), required=False, empty_label="Any tenant"
    )

    def __init__(self, *args: Any, tenants: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["tenant"]
        assert isinstance(field, forms.ModelChoiceField)
        if tenants is not None:
            field.queryset = tenants


class RequestFilterForm(DateRangeForm, TenantFilter):
    """Filters of "All requests" (and the CSV export of the same selection)."""

    field_order = ["q", "tenant", "queue", "workload", "state"]
    queue = forms.ChoiceField(
        label="Needs attention",
        choices=[("", "Any request"), *QUEUE_LABELS.items()],
        required=False,
    )
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Name, person or upstream id"}
        ),
    )
    workload = forms.ChoiceField(
        label="Kind", choices=[("", "Any kind"), *Workload.choices], required=False
    )
    state = forms.ChoiceField(choices=[("", "Any state"), *State.choices], required=False)


class DeliveryFilterForm(TenantFilter):
    """Filters of the webhook deliveries page (and its CSV)."""

    SHOW_PROBLEMS = "problems"
    show = forms.ChoiceField(
        choices=[
            ("", "All deliveries"),
            (SHOW_PROBLEMS, "Not applied (rejected, unmatched, several, stale)"),
        ],
        required=False,
    )


AFFIX = re.compile(r"^[A-Za-z0-9 _.\-]*$")


class TemplateDefinitionForm(forms.Form):
    """A template an admin defines in the portal, for an upstream without a catalogue."""

    name = forms.CharField(max_length=200, help_text="What requesters see, e.g. Project team.")
    workload = forms.ChoiceField(label="Workspace")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    help_text = forms.CharField(
        label="Guidance",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Shown to requesters above the form.",
    )
    naming_prefix = forms.CharField(
        label="Name prefix", required=False, max_length=30, help_text='E.g. "PRJ-".'
    )
    naming_suffix = forms.CharField(label="Name suffix", required=False, max_length=30)
    privacy = forms.ChoiceField(
        choices=[
            (Privacy.REQUESTER, "The requester chooses"),
            (Privacy.PRIVATE, "Always private"),
            (Privacy.PUBLIC, "Always public"),
        ]
    )
    owners_min = forms.IntegerField(
        label="Owners, at least",
        min_value=1,
        max_value=20,
        initial=1,
        help_text="Microsoft 365 needs an owner for a workspace made by an app.",
    )
    owners_max = forms.IntegerField(
        label="Owners, at most", min_value=1, max_value=100, required=False
    )
    classifications = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line; the requester picks one. They must exist in the tenant's "
        "classification policy first. Leave empty for none.",
    )
    terms = forms.CharField(
        label="Terms to accept", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    hidden = forms.BooleanField(required=False, help_text="Hidden templates are not offered.")

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        supported = tenant.capabilities.workloads
        workload = self.fields["workload"]
        assert isinstance(workload, forms.ChoiceField)
        workload.choices = [(w.value, w.label) for w in Workload if w in supported]
        if tenant.provider != "gt365":
            # Only GT365 sends a classification (seed 001).
            del self.fields["classifications"]

    def _affix(self, name: str) -> str:
        value = str(self.cleaned_data.get(name) or "")
        if not AFFIX.match(value):
            raise ValidationError("Use letters, digits, spaces, - _ and . only.")
        return value

    def clean_naming_prefix(self) -> str:
        return self._affix("naming_prefix")

    def clean_naming_suffix(self) -> str:
        return self._affix("naming_suffix")

    def clean_classifications(self) -> list[str]:
        text = str(self.cleaned_data.get("classifications") or "")
        values = list(dict.fromkeys(v.strip() for v in text.splitlines() if v.strip()))
        if any(len(v) > 60 for v in values):
            raise ValidationError("A classification has at most 60 characters.")
        return values

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        low, high = data.get("owners_min"), data.get("owners_max")
        if low and high and high < low:
            self.add_error("owners_max", "At most cannot be below at least.")
        return data

    @classmethod
    def initial_from(cls, template: Template) -> dict[str, Any]:
        rules = template.template_rules
        classification = next(
            (m for m in rules.metadata if m.name.casefold() == "classification"), None
        )
        return {
            "name": template.name,
            "workload": template.workload,
            "description": template.description,
            "help_text": template.help_text,
            "naming_prefix": rules.naming.prefix,
            "naming_suffix": rules.naming.suffix,
            "privacy": rules.privacy or Privacy.REQUESTER,
            "owners_min": rules.owners_min or 1,
            "owners_max": rules.owners_max,
            "classifications": "\n".join(classification.options) if classification else "",
            "terms": rules.terms,
            "hidden": template.hidden,
        }
