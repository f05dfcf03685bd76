"""What a requester asked for, and the body Point's POST /v1.0/provision/* expects for it."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

# Point's request field (syskit-point-api.md 3.1) to the portal form's field, so an upstream
# validation error lands next to the field the person typed into.
POINT_FIELD_TO_FORM = {
    "displayName": "display_name",
    "description": "description",
    "desiredUrl": "desired_url",
    "desiredEmail": "desired_url",
    "owners": "owners",
    "members": "members",
    "isPrivate": "is_private",
    "comment": "comment",
    "templateId": "__all__",
    "$": "__all__",
}
METADATA_FORM_PREFIX = "meta__"


def metadata_form_field(name: str) -> str:
    """The form field of a custom metadata field: "Cost Center" -> "meta__cost_center".

    The one slug rule shared by the request form and the mapping of upstream errors.
    """
    slug = re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")
    return f"{METADATA_FORM_PREFIX}{slug or 'field'}"


def form_field_for(point_field: str, metadata_fields: dict[str, str]) -> str:
    """The form field an upstream error key belongs to ("metadata.Cost Center" -> "meta__...")."""
    if point_field.startswith("metadata."):
        return metadata_fields.get(point_field.removeprefix("metadata."), "__all__")
    return POINT_FIELD_TO_FORM.get(point_field, "__all__")


@dataclass
class RequestData:
    """A validated request form, in plain JSON-able values (stored for clone and retry)."""

    display_name: str
    description: str = ""
    desired_url: str = ""
    is_private: bool | None = None
    owners: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)  # metadata name -> JSON value
    comment: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestData:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)

    def point_body(self, template_upstream_id: str) -> dict[str, Any]:
        """The JSON body of POST /v1.0/provision/{teams|groups|sites|yammer}."""
        body: dict[str, Any] = {
            "templateId": int(template_upstream_id)
            if template_upstream_id.isdigit()
            else template_upstream_id,
            "displayName": self.display_name,
            "description": self.description,
            "owners": list(self.owners),
            "members": list(self.members),
            "comment": self.comment,
            "metadata": dict(self.metadata),
        }
        if self.desired_url:
            body["desiredUrl"] = self.desired_url
        if self.is_private is not None:
            body["isPrivate"] = self.is_private
        return body
