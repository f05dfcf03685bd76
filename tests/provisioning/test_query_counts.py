"""List pages make the same number of queries for 10 rows as for 1,000."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from portal.models import User
from provisioning.models import ProvisioningRequest, Template
from provisioning.states import State
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
BOUND = 12  # session, user, tenant scope, count, page, messages ...


def fill(template: Template, user: User, total: int) -> None:
    have = ProvisioningRequest.objects.count()
    states = list(State)
    ProvisioningRequest.objects.bulk_create(
        ProvisioningRequest(
            tenant=template.tenant,
            template=template,
            requested_by=user,
            workload=template.workload,
            display_name=f"R{i}",
            final_name=f"PRJ - R{i}",
            state=states[i % len(states)],
        )
        for i in range(have, total)
    )


@pytest.mark.parametrize(
    "path, who",
    [
        ("/requests/", "requester_a"),
        ("/requests/all/", "it_staff"),
        ("/requests/all/?state=completed&q=R", "it_staff"),
        ("/requests/dashboard/", "it_staff"),
    ],
)
def test_list_pages_stay_within_the_same_bound(
    path: str,
    who: str,
    project_template: Template,
    request: Any,
    django_assert_max_num_queries: Callable[..., Any],
) -> None:
    user: User = request.getfixturevalue(who)
    owner: User = request.getfixturevalue("requester_a")
    client: Client = client_for(user)
    for total in (10, 1000):
        fill(project_template, owner, total)
        with django_assert_max_num_queries(BOUND):
            response = client.get(path)
        assert response.status_code == 200


def test_the_export_streams_in_a_fixed_number_of_queries(
    project_template: Template,
    requester_a: User,
    it_staff: User,
    django_assert_max_num_queries: Callable[..., Any],
) -> None:
    client = client_for(it_staff)
    for total in (10, 1000):
        fill(project_template, requester_a, total)
        with django_assert_max_num_queries(BOUND):
            response = client.get("/requests/all/export.csv")
            lines = b"".join(response.streaming_content).count(b"\n")  # type: ignore[attr-defined]
        assert lines == total + 1
