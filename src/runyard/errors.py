"""MLflow's error codes, their HTTP status, and the one exception type that carries them.

Every user-facing failure is a :class:`MlflowError`; the API layer renders it as MLflow's
``{"error_code", "message", "sqlstate", "error_class"}`` JSON with :attr:`MlflowError.status`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# error_code -> HTTP status, as mlflow.exceptions.ERROR_CODE_TO_HTTP_STATUS (a contract test
# keeps them equal). Codes not listed here answer 500, as MLflow's do.
HTTP_STATUS: dict[str, int] = {
    "INTERNAL_ERROR": 500,
    "INVALID_STATE": 500,
    "DATA_LOSS": 500,
    "NOT_IMPLEMENTED": 501,
    "TEMPORARILY_UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "CANCELLED": 499,
    "RESOURCE_EXHAUSTED": 429,
    "ABORTED": 409,
    "RESOURCE_CONFLICT": 409,
    "ALREADY_EXISTS": 409,
    "NOT_FOUND": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "PERMISSION_DENIED": 403,
    "CUSTOMER_UNAUTHORIZED": 401,
    "UNAUTHENTICATED": 401,
    "BAD_REQUEST": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "INVALID_PARAMETER_VALUE": 400,
}

# error_code -> (sqlstate, error_class) that MLflow's server adds to its error JSON.
# Codes absent here are rendered with error_code and message only, as MLflow does.
_CLASSIFICATION: dict[str, tuple[str, str]] = {
    "BAD_REQUEST": ("KAM00", "INVALID_PARAMETER_VALUE"),
    "CUSTOMER_UNAUTHORIZED": ("KAM00", "PERMISSION_DENIED"),
    "ENDPOINT_NOT_FOUND": ("KAM00", "RESOURCE_NOT_FOUND"),
    "INTERNAL_ERROR": ("XXM00", "CLIENT_INTERNAL_ERROR"),
    "INVALID_PARAMETER_VALUE": ("KAM00", "INVALID_PARAMETER_VALUE"),
    "INVALID_STATE": ("XXM00", "CLIENT_INTERNAL_ERROR"),
    "NOT_FOUND": ("KAM00", "RESOURCE_NOT_FOUND"),
    "PERMISSION_DENIED": ("KAM00", "PERMISSION_DENIED"),
    "RESOURCE_ALREADY_EXISTS": ("KAM00", "RESOURCE_ALREADY_EXISTS"),
    "RESOURCE_DOES_NOT_EXIST": ("KAM00", "RESOURCE_NOT_FOUND"),
    "TEMPORARILY_UNAVAILABLE": ("XXM00", "CLIENT_INTERNAL_ERROR"),
}


class MlflowError(Exception):
    """A failure the client should see, tagged with an MLflow error code."""

    error_code = "INTERNAL_ERROR"
    headers: Mapping[str, str] = {}  # extra response headers (WWW-Authenticate, Content-Range)

    def __init__(self, message: str, error_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if error_code is not None:
            self.error_code = error_code

    @property
    def status(self) -> int:
        return HTTP_STATUS.get(self.error_code, 500)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error_code": self.error_code, "message": self.message}
        classification = _CLASSIFICATION.get(self.error_code)
        if classification is not None:
            body["sqlstate"], body["error_class"] = classification
        return body


class InvalidParameterValue(MlflowError):
    error_code = "INVALID_PARAMETER_VALUE"


class AttributeNotFound(InvalidParameterValue):
    """A request names a field that does not exist; MLflow classifies it apart."""

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "sqlstate": "KAM04", "error_class": "ATTRIBUTE_NOT_FOUND"}


class BadRequest(MlflowError):
    error_code = "BAD_REQUEST"


class ResourceDoesNotExist(MlflowError):
    error_code = "RESOURCE_DOES_NOT_EXIST"


class ResourceAlreadyExists(MlflowError):
    error_code = "RESOURCE_ALREADY_EXISTS"


class InvalidState(MlflowError):
    """The request does not fit the resource's state (renaming a deleted experiment). MLflow
    answers 500, which its client retries seven times before it reports only "too many 500
    error responses"; the request caused it, so it is a 400 that the client raises at once,
    with this code and message."""

    error_code = "INVALID_STATE"

    @property
    def status(self) -> int:
        return 400


class TemporarilyUnavailable(MlflowError):
    error_code = "TEMPORARILY_UNAVAILABLE"


class SchemaMismatch(Exception):
    """The database is not at a schema revision this runyard serves (an operator error)."""
