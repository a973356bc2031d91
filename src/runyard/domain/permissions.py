"""Who may do what: permission levels and the rules for names and secrets.

Pure: no IO. Each route's rule (the permission it needs and the resource it acts on) is a row of
the one route table, ``api/routes.py``; ``services/auth.py`` decides.
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
    """A user's permission on an experiment or a registered model: their grant there, or else
    the server default."""
    return default if grant is None else grant


def names_at_least(level: Permission) -> tuple[str, ...]:
    """The stored names of the permissions that include ``level``."""
    return tuple(p.name for p in Permission if p >= level)


@dataclass(frozen=True, slots=True)
class ReadableModels:
    """Which registered models (and prompts) a search may return to one user: those they hold
    a grant of at least READ on, and, when the server default allows reading, those they
    hold no grant on. Administrators search without one."""

    user_id: int
    ungranted: bool  # a model without a grant for the user is readable (default >= READ)
    levels: tuple[str, ...] = names_at_least(Permission.READ)


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


def denied_on_model(username: str, needs: Permission, name: str) -> PermissionDenied:
    return PermissionDenied(
        f"Permission denied: user '{username}' needs {needs.name} on registered model '{name}'."
    )
