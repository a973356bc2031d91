"""Server settings: the only reader of flags, ``RUNYARD_*`` environment variables and the TOML file.

Precedence is flags > environment > config file > defaults, resolved once into a frozen
:class:`Settings` that the app carries in its state.
"""

from __future__ import annotations

import ipaddress
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
    log_format: str = "text"  # text | json (one JSON object a line, with the request id)
    # Authentication: off is allowed only on a loopback address (or with insecure_no_auth).
    auth: bool = False
    insecure_no_auth: bool = False
    auth_default_permission: str = "READ"  # what a user has on an experiment without a grant
    # Request hygiene (against DNS rebinding, cross-site writes and oversized bodies).
    allowed_hosts: str = ""  # comma-separated Host patterns; "" = loopback names + host
    cors_allowed_origins: str = ""  # comma-separated; "" = loopback origins only
    x_frame_options: str = "SAMEORIGIN"
    disable_security_middleware: bool = False
    max_request_bytes: int = 16 * 1024 * 1024  # tracking API bodies
    max_artifact_bytes: int = 10 * 1024**3  # one artifact PUT or multipart part
    # Operations.
    metrics: bool = True  # Prometheus /metrics
    shutdown_timeout: int = 30  # seconds in-flight requests get to finish on SIGTERM
    # Connections (against idle and slow-loris clients using up file descriptors).
    request_head_timeout: int = 30  # seconds to send a complete request head
    max_connections: int = 1000  # per worker; lowered to what RLIMIT_NOFILE can hold
    # Webhooks (the model registry's events, delivered signed from an outbox).
    webhook_secret_key_file: str = f"{DATA_DIR}/webhook-secret.key"  # Fernet keys, one a line
    webhook_allowed_schemes: str = "https"  # comma-separated: http, https
    webhook_allow_private_targets: bool = False  # loopback/private/link-local URLs: dev only
    webhook_request_timeout: int = 30  # seconds per delivery attempt
    webhook_max_attempts: int = 10  # attempts before a delivery is given up
    webhook_backoff_base: int = 5  # seconds; attempt n waits base * 2^(n-1), at most an hour
    webhook_poll_interval: int = 1  # seconds the sender rests when nothing is due


_INT_FIELDS = {
    "port",
    "workers",
    "db_pool_size",
    "db_max_overflow",
    "max_request_bytes",
    "max_artifact_bytes",
    "shutdown_timeout",
    "request_head_timeout",
    "max_connections",
    "webhook_request_timeout",
    "webhook_max_attempts",
    "webhook_backoff_base",
    "webhook_poll_interval",
}
_BOOL_FIELDS = {
    "serve_artifacts",
    "auth",
    "insecure_no_auth",
    "disable_security_middleware",
    "metrics",
    "webhook_allow_private_targets",
}
_CHOICES = {
    "log_format": ("text", "json"),
    "auth_default_permission": ("NO_PERMISSIONS", "READ", "EDIT", "MANAGE"),
}
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
    if name in _CHOICES and value not in _CHOICES[name]:
        choices = ", ".join(_CHOICES[name])
        raise SettingsError(f"{name} from {source} must be one of {choices}, got {value!r}")
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
    """``RUNYARD_<NAME>``, or ``RUNYARD_<NAME>_FILE`` naming a file that holds the value.

    The file form keeps secrets (a database URI with its password) out of the environment
    of every child process and out of ``ps``: point it at a 0600 file or at a systemd
    credential (``%d/<name>`` with ``LoadCredential=``).
    """
    found = {}
    for name in setting_names():
        key = ENV_PREFIX + name.upper()
        file_key = key + "_FILE"
        if key in environ and file_key in environ:
            raise SettingsError(f"set {key} or {file_key}, not both")
        if key in environ:
            found[name] = _coerce(name, environ[key], key)
        elif file_key in environ:
            found[name] = _coerce(name, _read_secret(environ[file_key], file_key), file_key)
    return found


def _read_secret(path: str, source: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise SettingsError(f"cannot read {source} ({path}): {exc.strerror or exc}") from exc


def named_secret(variable: str, environ: Mapping[str, str] | None = None) -> str:
    """The value of the environment variable an option names (``--admin-url-env NAME``), so
    a secret reaches a command without appearing on its command line."""
    environ = os.environ if environ is None else environ
    value = environ.get(variable, "").strip()
    if not value:
        raise SettingsError(f"environment variable {variable} is not set or empty")
    return value


def systemd_notify_socket(environ: Mapping[str, str] | None = None) -> str | None:
    """Where systemd (``Type=notify``) listens for ``READY=1``; None when not started by it."""
    environ = os.environ if environ is None else environ
    return environ.get("NOTIFY_SOCKET") or None


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


LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Settings) -> None:
    """Refuse to serve a non-loopback address without authentication, unless told to."""
    if settings.auth or settings.insecure_no_auth or is_loopback(settings.host):
        return
    raise SettingsError(
        f"refusing to listen on {settings.host} without authentication: anyone who can reach "
        "it could read and delete every experiment. Turn auth on (--auth, after "
        "`runyard users create --admin`), listen on 127.0.0.1 behind a proxy that "
        "authenticates, or pass --insecure-no-auth if something else protects this address."
    )


def normalize_db_uri(uri: str) -> str:
    """Accept the URIs MLflow users pass and pick runyard's drivers for them."""
    for prefix in ("postgresql+psycopg2://", "postgres://", "postgresql://"):
        if uri.startswith(prefix):
            return "postgresql+psycopg://" + uri[len(prefix) :]
    return uri
