"""What a requester asked for (RequestData), the neutral WorkspaceSpec it becomes for an
upstream, and where an upstream's field errors land on the form."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from upstreams import contract

METADATA_FORM_PREFIX = "meta__"
# The neutral fields of upstreams.contract that are not the form's own names.
NEUTRAL_TO_FORM = {contract.FIELD_TEMPLATE: "__all__", "": "__all__"}


def metadata_form_field(name: str) -> str:
    """The form field of a custom metadata field: "Cost Center" -> "meta__cost_center".

    The one slug rule shared by the request form and the mapping of upstream errors.
    """
    slug = re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")
    return f"{METADATA_FORM_PREFIX}{slug or 'field'}"


FORM_FIELDS = frozenset(
    {
        contract.FIELD_DISPLAY_NAME,
        contract.FIELD_DESCRIPTION,
        contract.FIELD_DESIRED_URL,
        contract.FIELD_PRIVACY,
        contract.FIELD_OWNERS,
        contract.FIELD_MEMBERS,
        contract.FIELD_COMMENT,
    }
)


def form_field_for(neutral: str) -> str:
    """The form field a neutral field error belongs to ("metadata.Cost Center" -> "meta__...");
    "__all__" for the request as a whole or a field the form does not have."""
    if neutral.startswith(contract.METADATA_PREFIX):
        return metadata_form_field(neutral.removeprefix(contract.METADATA_PREFIX))
    if neutral in FORM_FIELDS:
        return neutral
    return NEUTRAL_TO_FORM.get(neutral, "__all__")


def form_errors(field_errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """An upstream's neutral field errors keyed by the form's field names."""
    mapped: dict[str, list[str]] = {}
    for neutral, messages in field_errors.items():
        mapped.setdefault(form_field_for(neutral), []).extend(messages)
    return mapped


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

    def to_spec(self, *, template_id: str, workload: str) -> contract.WorkspaceSpec:
        """What to ask the upstream for; its adapter renders the wire body."""
        return contract.WorkspaceSpec(
            template_id=template_id,
            workload=contract.Workload(workload),
            display_name=self.display_name,
            description=self.description,
            desired_url=self.desired_url,
            is_private=self.is_private,
            owners=tuple(self.owners),
            members=tuple(self.members),
            metadata=dict(self.metadata),
            comment=self.comment,
        )
