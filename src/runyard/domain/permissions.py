"""Who may do what: permission levels, per-route rules, and the rules for names and secrets.

Pure: no IO. A :class:`Rule` says which permission a route needs and where the experiment it
acts on comes from; ``api/auth.py`` holds the one table of rules, ``services/auth.py`` decides.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from runyard.errors import InvalidParameterValue, MlflowError


class Permission(enum.IntEnum):
    """Ordered: each level includes the ones below it."""

    NO_PERMISSIONS = 0
    READ = 1
    EDIT = 2
    MANAGE = 3


PERMISSION_NAMES = tuple(p.name for p in Permission)


def parse_permission(name: str) -> Permission:
    try:
        return Permission[name]
    except KeyError:
        raise InvalidParameterValue(
            f"Invalid permission '{name}'. Valid permissions are: {PERMISSION_NAMES}"
        ) from None


def effective(grant: Permission | None, default: Permission) -> Permission:
    """A user's permission on an experiment: their grant there, or else the server default."""
    return default if grant is None else grant


class Source(enum.Enum):
    """Where a route's experiment comes from (or why it needs none)."""

    PUBLIC = "public"  # no credentials at all (health, version, server-info)
    SIGNED_IN = "signed-in"  # any authenticated user
    NEW_EXPERIMENT = "new-experiment"  # any user; the creator gets MANAGE on the new experiment
    READABLE_EXPERIMENTS = "readable"  # any user; the answer keeps only readable experiments
    ADMIN = "admin"  # administrators only
    EXPERIMENT_ID = "experiment_id"  # a request field holding an experiment id
    EXPERIMENT_IDS = "experiment_ids"  # a repeated field: every listed experiment
    EXPERIMENT_NAME = "experiment_name"  # a field holding an experiment's name
    RUN_ID = "run_id"  # a field holding a run id (run_uuid accepted too)
    RUN_IDS = "run_ids"  # a repeated field of run ids: every run's experiment
    MODEL_ID = "model_id"  # a logged model id, in the URL path and/or the body
    ARTIFACT_PATH = "artifact_path"  # a proxied artifact path: <experiment_id>/...


@dataclass(frozen=True, slots=True)
class Rule:
    """What one route needs: ``needs`` on the experiment found through ``source``.

    ``field`` names the request field that carries the id (defaults to the source's usual
    name); ``default`` is used when the field is absent (create-run falls back to experiment 0,
    as MLflow does).
    """

    needs: Permission
    source: Source
    field: str = ""
    default: str | None = None

    @property
    def field_name(self) -> str:
        return self.field or self.source.value


def public() -> Rule:
    return Rule(Permission.NO_PERMISSIONS, Source.PUBLIC)


def signed_in() -> Rule:
    return Rule(Permission.NO_PERMISSIONS, Source.SIGNED_IN)


def admin_only() -> Rule:
    return Rule(Permission.MANAGE, Source.ADMIN)


def experiment_of_artifact_path(path: str) -> int | None:
    """The experiment a proxied artifact path belongs to: its first segment, when numeric.

    Default artifact locations are ``mlflow-artifacts:/<experiment_id>``, so runs and logged
    models store under ``<experiment_id>/...``. Anything else (the root, other layouts) has no
    experiment and is left to administrators.
    """
    first = path.lstrip("/").split("/", 1)[0]
    if first.isascii() and first.isdigit() and len(first) <= 10:
        return int(first)
    return None


# --- users and secrets -------------------------------------------------------------------

TOKEN_PREFIX = "ryd_"  # tells a token from a password without a database lookup
USERNAME_MAX = 255
PASSWORD_MIN, PASSWORD_MAX = 8, 1024
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@+-]*")


def validate_username(name: str) -> None:
    # No ':' (the HTTP Basic separator), no spaces or control characters.
    if not name or len(name) > USERNAME_MAX or not _USERNAME.fullmatch(name):
        raise InvalidParameterValue(
            f"Invalid username {name!r}: use 1-{USERNAME_MAX} letters, digits and '_.@+-', "
            "starting with a letter or digit."
        )


def validate_password(password: str) -> None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidParameterValue(
            f"A password must have {PASSWORD_MIN} to {PASSWORD_MAX} characters."
        )
    if password.startswith(TOKEN_PREFIX):
        raise InvalidParameterValue(f"A password must not start with {TOKEN_PREFIX!r}.")


def is_token(secret: str) -> bool:
    return secret.startswith(TOKEN_PREFIX)


# --- the two failures ----------------------------------------------------------------------


class Unauthenticated(MlflowError):
    error_code = "UNAUTHENTICATED"


class PermissionDenied(MlflowError):
    error_code = "PERMISSION_DENIED"


def denied(username: str, needs: Permission, experiment_id: int | None) -> PermissionDenied:
    where = f"experiment {experiment_id}" if experiment_id is not None else "this resource"
    return PermissionDenied(f"Permission denied: user '{username}' needs {needs.name} on {where}.")
