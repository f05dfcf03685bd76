from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.env import env_bool, env_choice, env_int, env_list, env_secret, parse_database_url


def test_it_reads_booleans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAG", "yes")
    assert env_bool("FLAG", default=False) is True
    monkeypatch.setenv("FLAG", "False")
    assert env_bool("FLAG", default=True) is False
    monkeypatch.delenv("FLAG")
    assert env_bool("FLAG", default=True) is True


def test_it_rejects_a_bad_boolean_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match=r"DEBUG='maybe' is not a boolean"):
        env_bool("DEBUG", default=False)


def test_it_rejects_a_bad_int_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("Q_WORKERS", "two")
    with pytest.raises(ImproperlyConfigured, match=r"Q_WORKERS='two' is not a whole number"):
        env_int("Q_WORKERS", 2)


def test_it_rejects_an_int_below_its_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("Q_WORKERS", "0")
    with pytest.raises(ImproperlyConfigured, match="Q_WORKERS=0 is too small"):
        env_int("Q_WORKERS", 2, minimum=1)


def test_it_reads_lists_and_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTS", " a.example, ,b.example ")
    assert env_list("HOSTS") == ["a.example", "b.example"]
    monkeypatch.setenv("MODE", "other")
    with pytest.raises(ImproperlyConfigured, match="MODE='other' is not one of: x, y"):
        env_choice("MODE", ("x", "y"), "x")


def test_it_reads_a_secret_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret_file = tmp_path / "key"
    secret_file.write_text("from-file\n")
    monkeypatch.setenv("SECRET_KEY_FILE", str(secret_file))
    monkeypatch.setenv("SECRET_KEY", "from-env")
    assert env_secret("SECRET_KEY", required=True) == "from-file"


def test_it_requires_a_missing_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("SECRET_KEY_FILE", raising=False)
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY is required"):
        env_secret("SECRET_KEY", required=True)


def test_it_parses_database_urls(tmp_path: Path) -> None:
    pg = parse_database_url("DATABASE_URL", "postgres://u:p%40ss@db.example:5433/portal", tmp_path)
    assert (pg["ENGINE"], pg["NAME"], pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"]) == (
        "django.db.backends.postgresql",
        "portal",
        "u",
        "p@ss",
        "db.example",
        "5433",
    )
    lite = parse_database_url("DATABASE_URL", "sqlite:///var/x.db", tmp_path)
    assert lite["NAME"] == str(tmp_path / "var/x.db")


def test_it_rejects_an_unknown_database_scheme_without_echoing_the_password(
    tmp_path: Path,
) -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        parse_database_url("DATABASE_URL", "mysql://u:hunter2@h/db", tmp_path)
    assert "DATABASE_URL has an unsupported scheme 'mysql'" in str(caught.value)
    assert "hunter2" not in str(caught.value)
