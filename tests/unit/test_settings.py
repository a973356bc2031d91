from pathlib import Path

import pytest

from runyard.settings import (
    Settings,
    SettingsError,
    check_exposure,
    load_settings,
    normalize_db_uri,
)


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


def test_a_setting_can_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "uri"
    secret.write_text("postgresql://runyard:s3cret@127.0.0.1/runyard\n")
    env = {"RUNYARD_BACKEND_STORE_URI_FILE": str(secret)}
    assert load_settings({}, environ=env).backend_store_uri.endswith("s3cret@127.0.0.1/runyard")
    env["RUNYARD_BACKEND_STORE_URI"] = "sqlite:///x.db"
    with pytest.raises(SettingsError, match="not both"):
        load_settings({}, environ=env)
    with pytest.raises(SettingsError, match="RUNYARD_PORT_FILE"):
        load_settings({}, environ={"RUNYARD_PORT_FILE": str(tmp_path / "missing")})


def test_choices_are_checked() -> None:
    with pytest.raises(SettingsError, match="log_format"):
        load_settings({}, environ={"RUNYARD_LOG_FORMAT": "xml"})
    assert (
        load_settings(
            {}, environ={"RUNYARD_AUTH_DEFAULT_PERMISSION": "EDIT"}
        ).auth_default_permission
        == "EDIT"
    )


@pytest.mark.parametrize(
    ("host", "flags", "refused"),
    [
        ("127.0.0.1", {}, False),
        ("::1", {}, False),
        ("localhost", {}, False),
        ("0.0.0.0", {}, True),
        ("10.1.2.3", {}, True),
        ("0.0.0.0", {"auth": True}, False),
        ("0.0.0.0", {"insecure_no_auth": True}, False),
    ],
)
def test_a_public_address_needs_auth(host: str, flags: dict[str, bool], refused: bool) -> None:
    settings = load_settings({"host": host, **flags}, environ={})
    if refused:
        with pytest.raises(SettingsError, match="without authentication"):
            check_exposure(settings)
    else:
        check_exposure(settings)
