"""Schedules as data: each app lists its own in `<app>/schedules.py` as SCHEDULES.

`manage.py setup_schedules` collects them from every installed app and writes them with
update_or_create keyed on the name, so running it on every deploy is safe. Schedules are never
created in AppConfig.ready(), which makes duplicates when several processes start.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

from django.apps import apps
from django.db import transaction
from django_q.models import Schedule


@dataclass(frozen=True)
class ScheduleSpec:
    name: str  # "<app>.<task>", unique
    func: str  # dotted path of a task function that takes no arguments
    minutes: int  # run every N minutes (django-q2's finest resolution is about 30 s)
    doc: str = ""


def all_specs() -> list[ScheduleSpec]:
    specs: list[ScheduleSpec] = []
    for config in apps.get_app_configs():
        try:
            module = import_module(f"{config.name}.schedules")
        except ModuleNotFoundError as error:
            if error.name != f"{config.name}.schedules":
                raise
            continue
        specs.extend(module.SCHEDULES)
    return specs


def owned_prefixes() -> tuple[str, ...]:
    """Schedules whose name starts with one of our app labels are ours to prune."""
    return tuple(f"{config.label}." for config in apps.get_app_configs())


@transaction.atomic
def install_schedules(specs: list[ScheduleSpec]) -> dict[str, list[str]]:
    """Create or update every schedule, and delete ours that are no longer listed."""
    report: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": [], "deleted": []}
    names = set()
    for spec in specs:
        names.add(spec.name)
        wanted = {
            "func": spec.func,
            "schedule_type": Schedule.MINUTES,
            "minutes": spec.minutes,
            "repeats": -1,
        }
        existing = Schedule.objects.filter(name=spec.name).first()
        if existing is None:
            Schedule.objects.create(name=spec.name, **wanted)
            report["created"].append(spec.name)
        elif any(getattr(existing, field) != value for field, value in wanted.items()):
            for field, value in wanted.items():
                setattr(existing, field, value)
            existing.save()
            report["updated"].append(spec.name)
        else:
            report["unchanged"].append(spec.name)
    prefixes = owned_prefixes()
    for stale in Schedule.objects.exclude(name__in=names).exclude(name=None):
        if stale.name and stale.name.startswith(prefixes):
            stale.delete()
            report["deleted"].append(stale.name)
    return report
