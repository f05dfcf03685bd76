"""What the REST API reads and writes: the shapes of its OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Field, Schema

# A metadata value as the request form takes it: text, a number, yes/no, a date (ISO text).
MetadataValue = str | int | float | bool | None


class FormField(Schema):
    """One field of a template's request form: what to send under ``name``."""

    name: str = Field(examples=["display_name"])
    label: str = Field(examples=["Name"])
    required: bool
    help: str = ""
    choices: list[str] = []


class TemplateOut(Schema):
    id: int = Field(examples=[12])
    name: str = Field(examples=["Project team"])
    workload: str = Field(examples=["team"])
    description: str = ""
    approval: str = Field(description="automatic, manual or unknown", examples=["automatic"])
    fields: list[FormField] = Field(
        description="The request form's fields: top-level keys of a new request, metadata "
        "fields under `metadata` by their label."
    )


class RequestIn(Schema):
    """A new request: the request form's fields, checked as the form checks them."""

    template: int = Field(description="A template id from GET /templates.", examples=[12])
    display_name: str = Field(max_length=256, examples=["Falcon launch"])
    description: str = Field("", max_length=1000)
    desired_url: str = Field(
        "", max_length=100, description="Letters, digits, - and _ (where the template asks)."
    )
    privacy: Literal["private", "public"] | None = Field(
        None, description="Where the template lets the requester choose."
    )
    owners: list[str] = Field([], max_length=200, examples=[["adele.vance@contoso.com"]])
    members: list[str] = Field([], max_length=500)
    metadata: dict[str, MetadataValue] = Field(
        {},
        description="The template's custom fields, by label.",
        examples=[{"Cost Center": "CC-1001"}],
    )
    comment: str = Field("", max_length=2000)


class EventOut(Schema):
    at: datetime
    source: str = Field(description="portal, poll, webhook, person or api")
    from_state: str
    to_state: str
    detail: str
    actor: str = ""


class RequestOut(Schema):
    id: int
    tenant: str = Field(examples=["contoso"])
    template: int
    template_name: str
    workload: str
    display_name: str
    final_name: str
    state: str = Field(examples=["in_progress"])
    state_label: str = Field(examples=["In progress"])
    requested_by: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    upstream_id: str = ""
    workspace_url: str = ""
    error: str = ""
    field_errors: dict[str, list[str]] = {}
    owners: list[str] = []
    members: list[str] = []


class RequestDetail(RequestOut):
    events: list[EventOut]


class RequestPage(Schema):
    items: list[RequestOut]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` for the next page; null on the last one."
    )


class Changes(Schema):
    items: list[RequestOut] = Field(description="Requests changed since the cursor, oldest first.")
    cursor: str = Field(description="Pass as `since` next time (even when nothing changed).")
    has_more: bool


class GroupOut(Schema):
    id: str
    name: str = ""
    email: str = ""
    group_type: str = ""
    is_team: bool = False
    privacy: str = ""
    members_count: int | None = None
    owners_count: int | None = None
    guests_count: int | None = None
    sensitivity_label: str = ""
    site_url: str = ""


class SiteOut(Schema):
    id: str
    url: str = ""
    title: str = ""
    site_type: str = ""
    primary_admin: str = ""
    storage_used_bytes: int | None = None
    last_activity_on: str | None = None
    external_sharing: str = ""
    sensitivity_label: str = ""


class ListPage(Schema):
    page: int
    has_next: bool
    total: int | None = None
    read_at: datetime | None = Field(
        None,
        description="When the upstream gave this list (lists are kept briefly; fresh=true re-reads).",
    )


class GroupPage(ListPage):
    items: list[GroupOut]


class SitePage(ListPage):
    items: list[SiteOut]


class MembershipRow(Schema):
    name: str = ""
    upn: str = ""
    kind: str = Field("", description="user, guest or group")
    role: str = Field("", description="owner or member")


class Memberships(Schema):
    group_id: str
    group_name: str
    taken_at: datetime | None = Field(description="When the snapshot was taken.")
    stale: bool
    rows: list[MembershipRow]
