from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from core.scheduling import all_specs

pytestmark = pytest.mark.django_db


def setup_schedules() -> str:
    out = StringIO()
    call_command("setup_schedules", stdout=out)
    return out.getvalue()


def test_running_it_twice_leaves_one_row_per_schedule() -> None:
    setup_schedules()
    second = setup_schedules()
    names = [spec.name for spec in all_specs()]
    assert names, "every app's schedules are collected"
    for name in names:
        assert Schedule.objects.filter(name=name).count() == 1
    assert "created" not in second
    assert Schedule.objects.count() == len(names)


def test_it_restores_a_schedule_changed_by_hand() -> None:
    setup_schedules()
    Schedule.objects.filter(name="portal.heartbeat").update(minutes=60, func="x.y")
    assert "updated   portal.heartbeat" in setup_schedules()
    row = Schedule.objects.get(name="portal.heartbeat")
    assert (row.minutes, row.func) == (1, "portal.tasks.heartbeat")


def test_it_removes_our_schedules_that_are_no_longer_listed_but_not_others() -> None:
    Schedule.objects.create(name="portal.retired", func="portal.tasks.heartbeat")
    Schedule.objects.create(name="someone-else", func="portal.tasks.heartbeat")
    assert "deleted   portal.retired" in setup_schedules()
    assert not Schedule.objects.filter(name="portal.retired").exists()
    assert Schedule.objects.filter(name="someone-else").exists()


def test_the_heartbeat_schedule_runs_the_task() -> None:
    from django_q.tasks import async_task

    from portal.models import Heartbeat

    setup_schedules()
    row = Schedule.objects.get(name="portal.heartbeat")
    async_task(row.func)  # sync in tests: runs inline
    assert Heartbeat.objects.filter(name="worker").exists()
