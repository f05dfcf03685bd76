"""A request through the API: the JSON checked by the request form itself (no rule written
twice), and submitted once per Idempotency-Key.

The key becomes the submission key of ``services.request_submit_once`` (one request per key and
client, races settled by the database's unique constraint). A replay with the same body gets
the first answer again; with another body, a 409.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError

from api.problems import ProblemError
from api.schemas import RequestIn
from provisioning import services
from provisioning.forms import RequestForm
from provisioning.models import ProvisioningRequest, Template
from provisioning.payload import metadata_form_field
from provisioning.states import TransitionRefused

if TYPE_CHECKING:
    from api.auth import Principal

# The form's field names where the API's differ.
API_NAMES = {"is_private": "privacy"}
MAX_KEY = 255


def submission_key(principal: Principal, idempotency_key: str) -> str:
    """The submit's key: one per client and Idempotency-Key (a fresh one without a key)."""
    if not idempotency_key:
        return uuid.uuid4().hex
    if len(idempotency_key) > MAX_KEY:
        raise ProblemError(400, "Idempotency-Key too long", f"At most {MAX_KEY} characters.")
    return hashlib.sha256(f"{principal.client.pk}:{idempotency_key}".encode()).hexdigest()[:32]


def form_data(template: Template, body: RequestIn) -> dict[str, Any]:
    """The JSON as the request form's fields (people one per line, metadata by label)."""
    data: dict[str, Any] = {
        "display_name": body.display_name,
        "description": body.description,
        "desired_url": body.desired_url,
        "owners": "\n".join(body.owners),
        "members": "\n".join(body.members),
        "comment": body.comment,
    }
    if body.privacy:
        data["is_private"] = body.privacy
    labels = {spec.name.casefold(): spec.name for spec in template.template_rules.metadata}
    for label, value in body.metadata.items():
        name = labels.get(label.casefold(), label)
        if isinstance(value, bool):
            value = "yes" if value else "no"
        data[metadata_form_field(name)] = "" if value is None else str(value)
    return data


def field_errors(form: RequestForm) -> dict[str, list[str]]:
    """The form's errors keyed as the API names fields (metadata by label)."""
    labels = {name: spec.name for name, spec in form.metadata_fields.items()}
    found: dict[str, list[str]] = {}
    for name, messages in form.errors.items():
        key = API_NAMES.get(name) or (f"metadata.{labels[name]}" if name in labels else name)
        found[key if key != "__all__" else ""] = [str(m) for m in messages]
    return found


def submit(
    principal: Principal, template: Template, body: RequestIn, idempotency_key: str
) -> tuple[ProvisioningRequest, bool]:
    """(request, created). Raises ProblemError: 422 with field errors, 409 for a reused key."""
    key = submission_key(principal, idempotency_key)
    form = RequestForm(form_data(template, body), template=template)
    if not form.is_valid():
        raise ProblemError(
            422,
            "The request was refused",
            "Correct the fields named in `errors` and send it again.",
            errors=field_errors(form),
        )
    data = form.to_request_data()
    try:
        item, created = services.request_submit_once(
            submission_key=key,
            tenant=template.tenant,
            template=template,
            requested_by=principal.user,
            data=data,
            via=principal.client.name,
        )
    except ValidationError as error:
        raise ProblemError(422, "The request was refused", " ".join(error.messages)) from None
    except TransitionRefused as error:
        raise ProblemError(422, "The request was refused", str(error)) from None
    if not created and (item.template_id != template.pk or item.form_data != data.as_dict()):
        raise ProblemError(
            409,
            "Idempotency-Key already used",
            f"This key was used for request {item.pk} with another body. Use a new key for a "
            "new request.",
        )
    return item, created
