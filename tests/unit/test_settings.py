from pathlib import Path

import pytest

from runyard.settings import Settings, SettingsError, load_settings, normalize_db_uri


def test_defaults_bind_loopback_and_use_embedded_sqlite() -> None:
    s = load_settings({}, environ={})
    assert s.host == "127.0.0.1"
    assert s.port == 5000
    assert s.backend_store_uri.startswith("sqlite:///")
    assert s.default_artifact_root == "mlflow-artifacts:/"


def test_precedence_flags_over_env_over_file(tmp_path: Path) -> None:
    cfg = tmp_path / "runyard.toml"
    cfg.write_text('[server]\nport = 7000\nworkers = 3\nhost = "127.0.0.2"\n')
    env = {"RUNYARD_PORT": "6000", "RUNYARD_CONFIG": str(cfg)}
    s = load_settings({"port": None, "host": "127.0.0.3"}, environ=env)
    assert (s.port, s.workers, s.host) == (6000, 3, "127.0.0.3")
    assert load_settings({"port": 5001}, environ=env).port == 5001


def test_bad_values_are_reported_with_their_source(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="RUNYARD_PORT"):
        load_settings({}, environ={"RUNYARD_PORT": "http"})
    cfg = tmp_path / "bad.toml"
    cfg.write_text("colour = 'red'\n")
    with pytest.raises(SettingsError, match="unknown settings"):
        load_settings({}, environ={}, config_file=str(cfg))


def test_postgres_uris_use_psycopg3() -> None:
    assert normalize_db_uri("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_db_uri("postgresql+psycopg2://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_db_uri("sqlite:///x.db") == "sqlite:///x.db"


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Settings().port = 1  # type: ignore[misc]
