"""Webhooks (MLflow 3's WebhookService): events, input rules, the signature, the SSRF rule.

Pure: the one step that needs the network (resolving a host name) is a function the caller
passes in, so the rule that judges the addresses lives here and is tested without DNS.

Facts from MLflow 3.17.2 (``mlflow/entities/webhook.py``, ``mlflow/utils/validation.py``,
``mlflow/webhooks/``): events are (entity, action) pairs stored lower-case and spelled as
the upper-case proto enum names in JSON; a delivery is a POST of
``{"entity", "action", "timestamp", "data"}`` with ``X-MLflow-Delivery-Id``,
``X-MLflow-Timestamp`` (unix seconds) and, when the webhook has a secret,
``X-MLflow-Signature: v1,<base64 HMAC-SHA256 of "<delivery id>.<timestamp>.<body>">``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runyard.errors import InvalidParameterValue

# --- events ------------------------------------------------------------------------------------

# In proto enum order (numbers 1..n), as stored (lower case) in webhook_events.
ENTITIES = (
    "registered_model",
    "model_version",
    "model_version_tag",
    "model_version_alias",
    "prompt",
    "prompt_version",
    "prompt_tag",
    "prompt_version_tag",
    "prompt_alias",
    "budget_policy",
)
ACTIONS = ("created", "updated", "deleted", "set", "exceeded")
VALID_ACTIONS: Mapping[str, frozenset[str]] = {
    "registered_model": frozenset({"created"}),
    "model_version": frozenset({"created"}),
    "model_version_tag": frozenset({"set", "deleted"}),
    "model_version_alias": frozenset({"created", "deleted"}),
    "prompt": frozenset({"created"}),
    "prompt_version": frozenset({"created"}),
    "prompt_tag": frozenset({"set", "deleted"}),
    "prompt_version_tag": frozenset({"set", "deleted"}),
    "prompt_alias": frozenset({"created", "deleted"}),
    "budget_policy": frozenset({"exceeded"}),
}
ENTITY_NAMES = tuple(e.upper() for e in ENTITIES)  # the JSON spelling
ACTION_NAMES = tuple(a.upper() for a in ACTIONS)

STATUSES = ("ACTIVE", "DISABLED")  # proto numbers 1, 2
ACTIVE, DISABLED = STATUSES


@dataclass(frozen=True, slots=True, order=True)
class Event:
    entity: str  # lower case, one of ENTITIES
    action: str  # lower case, one of ACTIONS

    def __str__(self) -> str:
        return f"{self.entity}.{self.action}"


def event(entity: str, action: str) -> Event:
    """The event for a stored (lower-case) entity and action, checked as MLflow checks it."""
    if entity not in VALID_ACTIONS:
        raise InvalidParameterValue(
            f"Invalid webhook event entity {entity!r}. Valid entities are: {list(ENTITIES)}"
        )
    if action not in ACTIONS:
        raise InvalidParameterValue(
            f"Invalid webhook event action {action!r}. Valid actions are: {list(ACTIONS)}"
        )
    valid = VALID_ACTIONS[entity]
    if action not in valid:
        raise InvalidParameterValue(
            f"Invalid action '{action}' for entity '{entity}'. Valid actions are: {sorted(valid)}"
        )
    return Event(entity, action)


@dataclass(frozen=True, slots=True)
class Webhook:
    """A webhook as the API shows it. The secret is deliberately not a field: nothing that
    renders or logs a Webhook can leak it."""

    webhook_id: str
    name: str
    url: str
    events: tuple[Event, ...]
    status: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None


@dataclass(frozen=True, slots=True)
class TestResult:
    success: bool
    response_status: int | None = None
    response_body: str | None = None
    error_message: str | None = None


# --- input rules -------------------------------------------------------------------------------

_NAME = re.compile(r"[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?", re.IGNORECASE)
# Column sizes of MLflow's webhooks table: MLflow itself leaves them to the database (SQLite
# keeps longer values, PostgreSQL fails the statement), runyard says so before writing.
MAX_URL_LENGTH = 500
MAX_DESCRIPTION_LENGTH = 1000
# The secret column holds 1000 characters of Fernet token: 600 bytes of secret fit in it.
MAX_SECRET_BYTES = 600
MAX_RESULTS_LIMIT = 1000
DEFAULT_MAX_RESULTS = 100


def validate_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise InvalidParameterValue(
            f"Webhook name {name!r} is invalid. It must start and end with a letter or digit, "
            "be less than 63 characters long, and contain only letters, digits, dots (.), "
            "underscores (_), and hyphens (-)."
        )


def validate_events(events: Sequence[Event]) -> tuple[Event, ...]:
    """The events, once each (the table's key), in a stable order."""
    if not events:
        raise InvalidParameterValue(
            f"Webhook events must be a non-empty list of WebhookEvent objects: {list(events)}."
        )
    return tuple(sorted(set(events)))


def validate_description(description: str | None) -> None:
    if description is not None and len(description) > MAX_DESCRIPTION_LENGTH:
        raise InvalidParameterValue(
            f"Webhook description must be at most {MAX_DESCRIPTION_LENGTH} characters long."
        )


def validate_secret(secret: str | None) -> None:
    if secret is not None and len(secret.encode("utf-8")) > MAX_SECRET_BYTES:
        raise InvalidParameterValue(f"Webhook secret must be at most {MAX_SECRET_BYTES} bytes.")


def page_size(max_results: int | None) -> int:
    """MLflow: 0 or absent means 100; anything else must be within 1..1000."""
    size = max_results or DEFAULT_MAX_RESULTS
    if not 1 <= size <= MAX_RESULTS_LIMIT:
        raise InvalidParameterValue("max_results must be between 1 and 1000.")
    return size


# --- where a delivery may go (SSRF) ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """A checked delivery target: where to connect (``addresses``, every one of them allowed)
    and what to ask for there."""

    scheme: str
    host: str
    port: int
    path: str  # path and query, never empty
    addresses: tuple[str, ...]
    username: str | None = None
    password: str | None = None


Resolver = Callable[[str, int], Sequence[str]]  # (host, port) -> IP addresses; OSError if none


def parse_url(url: str, allowed_schemes: Sequence[str]) -> Target:
    """The URL's parts, checked with MLflow's messages (addresses not resolved yet)."""
    if not url.strip():
        raise InvalidParameterValue(f"Webhook URL cannot be empty or just whitespace: {url!r}")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidParameterValue(
            f"Webhook URL must be at most {MAX_URL_LENGTH} characters long."
        )
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidParameterValue(f"Invalid webhook URL {url!r}: {exc!r}") from None
    schemes = [s for s in allowed_schemes if s in ("http", "https")]  # never anything else
    if parts.scheme not in schemes:
        raise InvalidParameterValue(
            f"Invalid webhook URL scheme: {parts.scheme!r}. "
            f"Allowed schemes are: {', '.join(schemes)}."
        )
    host = parts.hostname
    if not host:
        raise InvalidParameterValue(f"Webhook URL must include a hostname: {url!r}")
    if any(c.isspace() or ord(c) < 0x20 for c in url):  # would split the request line
        raise InvalidParameterValue(f"Invalid webhook URL {url!r}: contains whitespace")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(
        scheme=parts.scheme,
        host=host,
        port=port or (443 if parts.scheme == "https" else 80),
        path=path,
        addresses=(),
        username=urllib.parse.unquote(parts.username) if parts.username else None,
        password=urllib.parse.unquote(parts.password) if parts.password else None,
    )


def _unwrapped(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Any:
    """An IPv4 address carried inside an IPv6 one (mapped, 6to4, NAT64) judged as itself, so
    ``::ffff:10.0.0.1`` is as private as ``10.0.0.1``."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is None and ip in _NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            return inner
    return ip


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def is_public(address: str) -> bool:
    """Whether an address may receive deliveries: globally routable and none of loopback,
    link-local, private, unspecified, multicast or reserved."""
    try:
        ip = _unwrapped(ipaddress.ip_address(address.split("%", 1)[0]))
    except ValueError:
        return False
    return bool(
        ip.is_global
        and not (
            ip.is_multicast
            or ip.is_loopback
            or ip.is_link_local
            or ip.is_private
            or ip.is_unspecified
            or ip.is_reserved
        )
    )


def check_target(
    url: str,
    resolve: Resolver,
    *,
    allowed_schemes: Sequence[str] = ("https",),
    allow_private: bool = False,
) -> Target:
    """The URL checked and resolved: every address the host resolves to must be public (one
    private answer is enough to refuse: a client could connect to any of them), unless
    ``allow_private``. Connect only to the returned addresses, never resolve again."""
    target = parse_url(url, allowed_schemes)
    try:
        addresses = tuple(dict.fromkeys(resolve(target.host, target.port)))
    except (OSError, UnicodeError, ValueError) as exc:
        raise InvalidParameterValue(
            f"Cannot resolve Webhook URL hostname {target.host!r}: {exc}"
        ) from None
    if not addresses:
        raise InvalidParameterValue(f"Cannot resolve Webhook URL hostname {target.host!r}")
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise InvalidParameterValue(
                    "Webhook URL must not resolve to a non-public IP address. "
                    f"{target.host!r} resolves to {address}."
                )
    return Target(
        target.scheme,
        target.host,
        target.port,
        target.path,
        addresses,
        target.username,
        target.password,
    )


# --- what is sent ------------------------------------------------------------------------------

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
SIGNATURE_VERSION = "v1"


def signature(secret: str, delivery_id: str, timestamp: str, body: str) -> str:
    """``v1,`` and the base64 HMAC-SHA256, keyed by the secret, of ``id.timestamp.body``."""
    signed = f"{delivery_id}.{timestamp}.{body}".encode()
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def envelope(ev: Event, data: Mapping[str, Any], timestamp_iso: str) -> dict[str, Any]:
    """The JSON object a delivery carries (MLflow adds ``workspace`` only with workspaces on,
    which runyard does not serve)."""
    return {"entity": ev.entity, "action": ev.action, "timestamp": timestamp_iso, "data": data}


# The payloads testWebhook sends, as MLflow's payload types give them.
_EXAMPLE_TAGS = {"example_key": "example_value"}
EXAMPLE_PAYLOADS: Mapping[Event, Mapping[str, Any]] = {
    Event("registered_model", "created"): {
        "name": "example_model",
        "tags": _EXAMPLE_TAGS,
        "description": "An example registered model",
    },
    Event("model_version", "created"): {
        "name": "example_model",
        "version": "1",
        "source": "models:/123",
        "run_id": "abcd1234abcd5678",
        "tags": _EXAMPLE_TAGS,
        "description": "An example model version",
    },
    Event("model_version_tag", "set"): {
        "name": "example_model",
        "version": "1",
        "key": "example_key",
        "value": "example_value",
    },
    Event("model_version_tag", "deleted"): {
        "name": "example_model",
        "version": "1",
        "key": "example_key",
    },
    Event("model_version_alias", "created"): {
        "name": "example_model",
        "alias": "example_alias",
        "version": "1",
    },
    Event("model_version_alias", "deleted"): {"name": "example_model", "alias": "example_alias"},
    Event("prompt", "created"): {
        "name": "example_prompt",
        "tags": _EXAMPLE_TAGS,
        "description": "An example prompt",
    },
    Event("prompt_version", "created"): {
        "name": "example_prompt",
        "version": "1",
        "template": "Hello {{name}}!",
        "tags": _EXAMPLE_TAGS,
        "description": "An example prompt version",
    },
    Event("prompt_tag", "set"): {
        "name": "example_prompt",
        "key": "example_key",
        "value": "example_value",
    },
    Event("prompt_tag", "deleted"): {"name": "example_prompt", "key": "example_key"},
    Event("prompt_version_tag", "set"): {
        "name": "example_prompt",
        "version": "1",
        "key": "example_key",
        "value": "example_value",
    },
    Event("prompt_version_tag", "deleted"): {
        "name": "example_prompt",
        "version": "1",
        "key": "example_key",
    },
    Event("prompt_alias", "created"): {
        "name": "example_prompt",
        "alias": "example_alias",
        "version": "1",
    },
    Event("prompt_alias", "deleted"): {"name": "example_prompt", "alias": "example_alias"},
    Event("budget_policy", "exceeded"): {
        "budget_policy_id": "bp-abc123",
        "budget_unit": "USD",
        "budget_amount": 100.0,
        "current_spend": 105.50,
        "duration_unit": "MONTHS",
        "duration_value": 1,
        "target_scope": "ENDPOINT",
        "workspace": "default",
        "target_value": "ep-abc123",
        "window_start": 1704067200000,
    },
}


# --- the registry's events ---------------------------------------------------------------------
# What each registry write emits, as MLflow's handlers decide it. A registered model is a
# prompt when its tag mlflow.prompt.is_prompt is "true" (any case); a new model or version is
# judged by the tags of the request itself, the other writes by the stored model's tags.

IS_PROMPT_TAG = "mlflow.prompt.is_prompt"
PROMPT_TYPE_TAG = "_mlflow_prompt_type"
PROMPT_TEXT_TAG = "mlflow.prompt.text"


@dataclass(frozen=True, slots=True)
class Emission:
    entity: str
    action: str
    payload: dict[str, Any]


def is_prompt(tags: Mapping[str, str]) -> bool:
    return tags.get(IS_PROMPT_TAG, "false").lower() == "true"


def registered_model_created(
    name: str, tags: Mapping[str, str], description: str | None
) -> Emission:
    if is_prompt(tags):
        kept = {k: v for k, v in tags.items() if k not in (IS_PROMPT_TAG, PROMPT_TYPE_TAG)}
        return Emission("prompt", "created", _model(name, kept, description))
    return Emission("registered_model", "created", _model(name, dict(tags), description))


def _model(name: str, tags: dict[str, str], description: str | None) -> dict[str, Any]:
    return {"name": name, "tags": tags, "description": description}


def model_version_created(
    name: str,
    version: int | str,
    source: str,
    run_id: str | None,
    tags: Mapping[str, str],
    description: str | None,
) -> Emission:
    """``tags``: the request's (the last value of a repeated key wins, as in a dict)."""
    if is_prompt(tags):
        rest = dict(tags)
        template = rest.pop(PROMPT_TEXT_TAG, None)
        rest.pop(IS_PROMPT_TAG, None)
        rest.pop(PROMPT_TYPE_TAG, None)
        payload = {
            "name": name,
            "version": str(version),
            "template": template,
            "tags": rest,
            "description": description or None,
        }
        return Emission("prompt_version", "created", payload)
    payload = {
        "name": name,
        "version": str(version),
        "source": source,
        "run_id": run_id or None,
        "tags": dict(tags),
        "description": description or None,
    }
    return Emission("model_version", "created", payload)


def registered_model_tag_set(
    model_is_prompt: bool, name: str, key: str, value: str
) -> Emission | None:
    """MLflow emits for a prompt's tags only; a registered model's tag changes emit nothing."""
    if not model_is_prompt:
        return None
    return Emission("prompt_tag", "set", {"name": name, "key": key, "value": value})


def registered_model_tag_deleted(model_is_prompt: bool, name: str, key: str) -> Emission | None:
    if not model_is_prompt:
        return None
    return Emission("prompt_tag", "deleted", {"name": name, "key": key})


def model_version_tag_set(
    model_is_prompt: bool, name: str, version: str, key: str, value: str
) -> Emission:
    entity = "prompt_version_tag" if model_is_prompt else "model_version_tag"
    payload = {"name": name, "version": version, "key": key, "value": value}
    return Emission(entity, "set", payload)


def model_version_tag_deleted(model_is_prompt: bool, name: str, version: str, key: str) -> Emission:
    entity = "prompt_version_tag" if model_is_prompt else "model_version_tag"
    return Emission(entity, "deleted", {"name": name, "version": version, "key": key})


def alias_set(model_is_prompt: bool, name: str, alias: str, version: str) -> Emission:
    entity = "prompt_alias" if model_is_prompt else "model_version_alias"
    return Emission(entity, "created", {"name": name, "alias": alias, "version": version})


def alias_deleted(model_is_prompt: bool, name: str, alias: str) -> Emission:
    entity = "prompt_alias" if model_is_prompt else "model_version_alias"
    return Emission(entity, "deleted", {"name": name, "alias": alias})
