from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django_q.models import Schedule
from pytest_django.fixtures import Settings

from portal.models import User
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_it_seeds_the_demo_tenants_people_and_schedules_once(settings: Settings) -> None:
    settings.DEMO_MODE = True
    settings.EMULATOR_URL = "http://127.0.0.1:8301"
    seed()
    seed()
    assert sorted(Tenant.objects.values_list("slug", flat=True)) == [
        "contoso",
        "fabrikam",
        "litware",
        "tailspin",
    ]
    contoso = Tenant.objects.get(slug="contoso")
    assert contoso.api_url == "http://127.0.0.1:8301/point/contoso"
    assert contoso.get_client_secret().startswith("Ctso8Q~")
    megan = User.objects.get()
    assert megan.home_tenant == contoso
    assert list(megan.served_tenants.values_list("slug", flat=True)) == ["fabrikam"]
    assert Schedule.objects.filter(name="provisioning.poll_requests").count() == 1


def test_it_creates_no_demo_tenants_outside_demo_mode(settings: Settings) -> None:
    settings.DEMO_MODE = False
    assert "no demo tenants" in seed()
    assert not Tenant.objects.exists()
    assert not User.objects.exists()


def test_it_follows_the_emulator_port_but_never_undoes_a_re_pointed_tenant(
    settings: Settings,
) -> None:
    settings.DEMO_MODE = True
    settings.EMULATOR_URL = "http://127.0.0.1:8301"
    seed()
    settings.EMULATOR_URL = "http://127.0.0.1:8401"
    seed()
    assert Tenant.objects.get(slug="contoso").api_url == "http://127.0.0.1:8401/point/contoso"
    Tenant.objects.filter(slug="fabrikam").update(api_url="https://fabrikam.syskit365demo.com")
    seed()
    assert Tenant.objects.get(slug="fabrikam").api_url == "https://fabrikam.syskit365demo.com"
