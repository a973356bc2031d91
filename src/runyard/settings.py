"""Server settings: the only reader of flags, ``RUNYARD_*`` environment variables and the TOML file.

Precedence is flags > environment > config file > defaults, resolved once into a frozen
:class:`Settings` that the app carries in its state.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

DATA_DIR = "runyard-data"


@dataclass(frozen=True, slots=True)
class Settings:
    backend_store_uri: str = f"sqlite:///{DATA_DIR}/runyard.db"
    default_artifact_root: str = "mlflow-artifacts:/"
    artifacts_destination: str = f"{DATA_DIR}/artifacts"
    serve_artifacts: bool = True
    artifacts_sftp_key_file: str | None = None
    artifacts_sftp_known_hosts: str | None = None
    artifacts_s3_endpoint_url: str | None = None
    artifacts_s3_region: str | None = None
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 1
    db_pool_size: int = 10
    db_max_overflow: int = 10
    log_level: str = "info"


_INT_FIELDS = {"port", "workers", "db_pool_size", "db_max_overflow"}
_BOOL_FIELDS = {"serve_artifacts"}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
ENV_PREFIX = "RUNYARD_"


class SettingsError(ValueError):
    """A setting has a value runyard cannot use."""


def setting_names() -> list[str]:
    return [f.name for f in fields(Settings)]


def _coerce(name: str, value: Any, source: str) -> Any:
    if name in _INT_FIELDS:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{name} from {source} must be an integer, got {value!r}") from None
        if number < (0 if name == "db_max_overflow" else 1):
            raise SettingsError(f"{name} from {source} is out of range: {number}")
        return number
    if name in _BOOL_FIELDS:
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in _TRUE | _FALSE:
            return word in _TRUE
        raise SettingsError(f"{name} from {source} must be true or false, got {value!r}")
    if not isinstance(value, str):
        raise SettingsError(f"{name} from {source} must be a string, got {value!r}")
    return value


def _from_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read config file {path}: {exc}") from exc
    table = data.get("server", data)
    unknown = set(table) - set(setting_names())
    if unknown:
        raise SettingsError(f"unknown settings in {path}: {', '.join(sorted(unknown))}")
    return {k: _coerce(k, v, str(path)) for k, v in table.items()}


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    found = {}
    for name in setting_names():
        key = ENV_PREFIX + name.upper()
        if key in environ:
            found[name] = _coerce(name, environ[key], key)
    return found


def load_settings(
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config_file: str | None = None,
) -> Settings:
    """Merge the sources in precedence order; ``None`` flag values mean "not given"."""
    environ = os.environ if environ is None else environ
    config_file = config_file or environ.get(ENV_PREFIX + "CONFIG")
    merged: dict[str, Any] = {}
    if config_file:
        merged.update(_from_file(Path(config_file)))
    merged.update(_from_env(environ))
    for name, value in (flags or {}).items():
        if value is not None:
            merged[name] = _coerce(name, value, f"--{name.replace('_', '-')}")
    return Settings(**merged)


def normalize_db_uri(uri: str) -> str:
    """Accept the URIs MLflow users pass and pick runyard's drivers for them."""
    for prefix in ("postgresql+psycopg2://", "postgres://", "postgresql://"):
        if uri.startswith(prefix):
            return "postgresql+psycopg://" + uri[len(prefix) :]
    return uri
