"""One form, one request: a double click, a resubmit or 20 concurrent POSTs make one request,
and the person lands on it (issue 11: 20 identical POSTs used to make 20 requests)."""

from __future__ import annotations

import re
import threading
import uuid
from unittest.mock import patch

import pytest
from django.db import connection
from django.test import Client

from audit.models import AuditAction, AuditEvent
from portal.models import User
from provisioning.models import ProvisioningRequest, RequestEvent, Template
from tests.conftest import client_for
from tests.provisioning.test_views_form import VALID, url


def form_key(client: Client, template: Template) -> str:
    page = client.get(url(template)).content.decode()
    found = re.search(r'name="submission_key" value="([0-9a-f]{32})"', page)
    assert found, "the form carries a submission key"
    return found.group(1)


@pytest.mark.django_db
def test_a_double_click_makes_one_request_and_lands_on_it(
    project_template: Template, requester_a: User
) -> None:
    client = client_for(requester_a)
    data = {**VALID, "submission_key": form_key(client, project_template)}
    with patch("provisioning.services.requests.enqueue_send") as send:
        first = client.post(url(project_template), data)
        second = client.post(url(project_template), data, follow=True)
    created = ProvisioningRequest.objects.get()
    assert first["Location"] == second.redirect_chain[-1][0] == f"/requests/{created.pk}/"
    assert "This form was already submitted" in second.content.decode()
    assert send.call_count == 1
    assert RequestEvent.objects.filter(request=created).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.REQUEST_SUBMITTED).count() == 1


@pytest.mark.django_db
def test_a_resubmit_after_back_lands_on_the_request_the_form_made(
    project_template: Template, requester_a: User
) -> None:
    client = client_for(requester_a)
    key = form_key(client, project_template)
    with patch("provisioning.services.requests.enqueue_send"):
        client.post(url(project_template), {**VALID, "submission_key": key})
        again = client.post(
            url(project_template), {**VALID, "display_name": "Edited", "submission_key": key}
        )
    created = ProvisioningRequest.objects.get()
    assert again["Location"] == f"/requests/{created.pk}/"
    assert created.display_name == "Apollo"


@pytest.mark.django_db
def test_a_new_form_makes_a_new_request(project_template: Template, requester_a: User) -> None:
    client = client_for(requester_a)
    with patch("provisioning.services.requests.enqueue_send"):
        for name in ("Apollo", "Gemini"):
            client.post(
                url(project_template),
                {
                    **VALID,
                    "display_name": name,
                    "submission_key": form_key(client, project_template),
                },
            )
    assert ProvisioningRequest.objects.count() == 2


@pytest.mark.django_db
def test_a_form_shown_again_with_errors_keeps_its_key(
    project_template: Template, requester_a: User
) -> None:
    client = client_for(requester_a)
    key = form_key(client, project_template)
    page = client.post(
        url(project_template), {**VALID, "display_name": "", "submission_key": key}
    ).content.decode()
    assert f'value="{key}"' in page


@pytest.mark.django_db
def test_another_persons_key_is_no_key_to_their_request(
    project_template: Template, requester_a: User, requester_b: User
) -> None:
    key = uuid.uuid4().hex
    with patch("provisioning.services.requests.enqueue_send"):
        client_for(requester_a).post(url(project_template), {**VALID, "submission_key": key})
        response = client_for(requester_b).post(
            url(project_template), {**VALID, "submission_key": key}
        )
    theirs = ProvisioningRequest.objects.get(requested_by=requester_b)
    assert response["Location"] == f"/requests/{theirs.pk}/"
    assert ProvisioningRequest.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_posts_of_one_form_make_one_request(
    project_template: Template, requester_a: User
) -> None:
    data = {**VALID, "submission_key": uuid.uuid4().hex}
    start = threading.Barrier(20)
    locations: list[str] = []
    errors: list[BaseException] = []

    def post() -> None:
        try:
            client = client_for(requester_a)
            start.wait(timeout=30)
            response = client.post(url(project_template), data)
            locations.append(response["Location"])
        except BaseException as error:  # reported below, with the thread's own traceback lost
            errors.append(error)
        finally:
            connection.close()

    with patch("provisioning.services.requests.enqueue_send") as send:
        threads = [threading.Thread(target=post) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert errors == []
    created = ProvisioningRequest.objects.get()
    assert locations == [f"/requests/{created.pk}/"] * 20
    assert send.call_count == 1
    assert AuditEvent.objects.filter(action=AuditAction.REQUEST_SUBMITTED).count() == 1
