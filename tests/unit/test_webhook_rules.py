"""domain/webhooks: events, input rules, the SSRF rule and the signature, checked against
mlflow 3.17.2's own definitions and functions where it has them."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

import pytest
from mlflow.entities.webhook import VALID_ENTITY_ACTIONS
from mlflow.entities.webhook import WebhookEvent as MlflowEvent
from mlflow.exceptions import MlflowException
from mlflow.protos import webhooks_pb2
from mlflow.utils.validation import _is_public_ip, _validate_webhook_name
from mlflow.webhooks import constants as mlflow_constants
from mlflow.webhooks.delivery import _generate_hmac_signature
from mlflow.webhooks.types import EVENT_TO_PAYLOAD_CLASS

from runyard.domain import webhooks as rules
from runyard.errors import InvalidParameterValue
from runyard.services.webhook_delivery import resolve

# --- events ------------------------------------------------------------------------------------


def test_entities_and_actions_are_mlflows_in_proto_order() -> None:
    entity_names = [v.name for v in webhooks_pb2.WebhookEntity.DESCRIPTOR.values][1:]
    action_names = [v.name for v in webhooks_pb2.WebhookAction.DESCRIPTOR.values][1:]
    status_names = [v.name for v in webhooks_pb2.WebhookStatus.DESCRIPTOR.values]
    assert list(rules.ENTITY_NAMES) == entity_names
    assert list(rules.ACTION_NAMES) == action_names
    assert list(rules.STATUSES) == status_names
    assert {e.value: {a.value for a in acts} for e, acts in VALID_ENTITY_ACTIONS.items()} == {
        e: set(a) for e, a in rules.VALID_ACTIONS.items()
    }


@pytest.mark.parametrize("entity", rules.ENTITIES)
@pytest.mark.parametrize("action", rules.ACTIONS)
def test_event_combinations_as_mlflow_judges_them(entity: str, action: str) -> None:
    try:
        MlflowEvent(entity, action)
    except MlflowException as exc:
        with pytest.raises(InvalidParameterValue) as ours:
            rules.event(entity, action)
        assert ours.value.message == exc.message
    else:
        assert rules.event(entity, action) == rules.Event(entity, action)


def test_unknown_entity_or_action_is_a_400() -> None:
    with pytest.raises(InvalidParameterValue, match="entity 'nope'"):
        rules.event("nope", "created")
    with pytest.raises(InvalidParameterValue, match="action 'gone'"):
        rules.event("prompt", "gone")


def test_events_must_be_given_and_are_kept_once_in_order() -> None:
    with pytest.raises(InvalidParameterValue) as exc:
        rules.validate_events([])
    assert exc.value.message == (
        "Webhook events must be a non-empty list of WebhookEvent objects: []."
    )
    a, b = rules.Event("prompt", "created"), rules.Event("model_version", "created")
    assert rules.validate_events([a, b, a]) == (b, a)


def test_example_payloads_cover_every_event_with_mlflows_examples() -> None:
    expected = {
        rules.Event(entity.value, action.value): dict(cls.example())
        for (entity, action), cls in EVENT_TO_PAYLOAD_CLASS.items()
    }
    assert {k: dict(v) for k, v in rules.EXAMPLE_PAYLOADS.items()} == expected


# --- names, lengths, pages ---------------------------------------------------------------------

NAMES = [
    "a",
    "A1",
    "my-hook",
    "my_hook.v2",
    "x" * 63,
    "x" * 64,
    "-start",
    "end-",
    ".dot",
    "sp ace",
    "",
    "ünï",
    "a/b",
    "9",
    "a..b",
]


@pytest.mark.parametrize("name", NAMES)
def test_name_rule_and_message_are_mlflows(name: str) -> None:
    try:
        _validate_webhook_name(name)
    except MlflowException as exc:
        with pytest.raises(InvalidParameterValue) as ours:
            rules.validate_name(name)
        assert ours.value.message == exc.message
    else:
        rules.validate_name(name)


def test_lengths_the_columns_hold() -> None:
    rules.validate_description("d" * 1000)
    with pytest.raises(InvalidParameterValue):
        rules.validate_description("d" * 1001)
    rules.validate_secret("s" * 600)
    with pytest.raises(InvalidParameterValue):
        rules.validate_secret("é" * 301)  # 602 bytes
    with pytest.raises(InvalidParameterValue, match="at most 500"):
        rules.parse_url("https://example.com/" + "p" * 500, ("https",))


@pytest.mark.parametrize(("given", "size"), [(None, 100), (0, 100), (1, 1), (1000, 1000)])
def test_page_size(given: int | None, size: int) -> None:
    assert rules.page_size(given) == size


@pytest.mark.parametrize("given", [-1, 1001])
def test_page_size_out_of_range(given: int) -> None:
    with pytest.raises(InvalidParameterValue, match="max_results must be between 1 and 1000."):
        rules.page_size(given)


# --- URLs and the SSRF rule --------------------------------------------------------------------


def fixed(*addresses: str) -> rules.Resolver:
    def resolver(host: str, port: int) -> Sequence[str]:
        return list(addresses)

    return resolver


def test_url_messages_are_mlflows() -> None:
    with pytest.raises(InvalidParameterValue) as exc:
        rules.parse_url("http://example.com/h", ("https",))
    assert exc.value.message == "Invalid webhook URL scheme: 'http'. Allowed schemes are: https."
    with pytest.raises(InvalidParameterValue) as exc:
        rules.parse_url("https:///h", ("https",))
    assert exc.value.message == "Webhook URL must include a hostname: 'https:///h'"
    with pytest.raises(InvalidParameterValue) as exc:
        rules.parse_url("   ", ("https",))
    assert exc.value.message == "Webhook URL cannot be empty or just whitespace: '   '"


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "gopher://x/"])
def test_only_http_and_https_even_if_a_setting_names_more(url: str) -> None:
    with pytest.raises(InvalidParameterValue, match="scheme"):
        rules.parse_url(url, ("https", "http", "ftp", "file", "gopher"))


def test_parsed_target() -> None:
    target = rules.parse_url("https://u:p%40ss@example.com:8443/a/b?x=1#frag", ("https",))
    assert (target.host, target.port, target.path) == ("example.com", 8443, "/a/b?x=1")
    assert (target.username, target.password) == ("u", "p@ss")
    assert rules.parse_url("http://example.com", ("http",)).path == "/"
    assert rules.parse_url("http://example.com", ("http",)).port == 80
    with pytest.raises(InvalidParameterValue, match="Invalid webhook URL"):
        rules.parse_url("https://example.com:99999/", ("https",))


PRIVATE = [
    "127.0.0.1",
    "127.8.9.10",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "0.0.0.0",
    "100.64.0.1",  # carrier-grade NAT
    "224.0.0.1",
    "239.255.255.250",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "ff02::1",
    "::ffff:10.0.0.1",  # mapped
    "::ffff:127.0.0.1",
    "2002:a00:1::",  # 6to4 of 10.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", PRIVATE)
def test_non_public_literal_addresses_are_refused(address: str) -> None:
    assert not rules.is_public(address)
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(InvalidParameterValue) as exc:
        rules.check_target(f"https://{host}/hook", resolve)  # the real resolver: a literal
    assert "must not resolve to a non-public IP address" in exc.value.message
    target = rules.check_target(f"https://{host}/hook", resolve, allow_private=True)
    assert target.addresses


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass_and_mlflow_agrees(address: str) -> None:
    import ipaddress

    assert rules.is_public(address)
    assert _is_public_ip(ipaddress.ip_address(address))
    host = f"[{address}]" if ":" in address else address
    assert rules.check_target(f"https://{host}/", resolve).addresses


MULTICAST = {"224.0.0.1", "239.255.255.250", "ff02::1"}


@pytest.mark.parametrize("address", PRIVATE)
def test_mlflow_calls_the_same_addresses_non_public_but_multicast(address: str) -> None:
    # Python's is_global holds for most multicast ranges and MLflow goes by it alone;
    # runyard refuses multicast as well (a POST has no business there).
    import ipaddress

    assert _is_public_ip(ipaddress.ip_address(address)) == (address in MULTICAST)


def test_localhost_resolves_to_loopback_and_is_refused() -> None:
    with pytest.raises(InvalidParameterValue) as exc:
        rules.check_target("https://localhost/hook", resolve)
    assert exc.value.message.startswith(
        "Webhook URL must not resolve to a non-public IP address. 'localhost' resolves to "
    )


def test_every_resolved_address_must_be_public() -> None:
    # A name with one public and one private answer: a client may connect to either.
    url = "https://hooks.example.com/x"
    with pytest.raises(InvalidParameterValue) as exc:
        rules.check_target(url, fixed("93.184.216.34", "10.1.2.3"))
    assert exc.value.message == (
        "Webhook URL must not resolve to a non-public IP address. "
        "'hooks.example.com' resolves to 10.1.2.3."
    )
    with pytest.raises(InvalidParameterValue, match="169.254.169.254"):
        rules.check_target(url, fixed("169.254.169.254"))
    target = rules.check_target(url, fixed("93.184.216.34", "93.184.216.34", "1.1.1.1"))
    assert target.addresses == ("93.184.216.34", "1.1.1.1")
    assert rules.check_target(url, fixed("10.1.2.3"), allow_private=True).addresses == ("10.1.2.3",)


def test_a_name_that_does_not_resolve() -> None:
    def failing(host: str, port: int) -> Sequence[str]:
        raise OSError("[Errno -2] Name or service not known")

    with pytest.raises(InvalidParameterValue) as exc:
        rules.check_target("https://nowhere.invalid/", failing)
    assert exc.value.message == (
        "Cannot resolve Webhook URL hostname 'nowhere.invalid': [Errno -2] Name or service "
        "not known"
    )
    with pytest.raises(InvalidParameterValue, match="Cannot resolve"):
        rules.check_target("https://nowhere.invalid/", fixed())


# --- the signature -----------------------------------------------------------------------------


def verify(secret: str, headers: dict[str, str], body: str) -> bool:
    """A receiver's check, written from MLflow's documented scheme (Standard Webhooks)."""
    signed = f"{headers['X-MLflow-Delivery-Id']}.{headers['X-MLflow-Timestamp']}.{body}"
    digest = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode()
    return hmac.compare_digest(expected, headers["X-MLflow-Signature"])


@pytest.mark.parametrize(
    ("secret", "body"),
    [
        ("s3cret", '{"entity": "model_version", "action": "created", "data": {}}'),
        ("ünïcode-secret", '{"name": "m\\u00e9"}'),
        ("k", ""),
    ],
)
def test_signature_is_mlflows(secret: str, body: str) -> None:
    delivery_id, timestamp = "0b7e4a3c-1d2e-4f50-8a9b-0c1d2e3f4a5b", "1718000000"
    ours = rules.signature(secret, delivery_id, timestamp, body)
    assert ours == _generate_hmac_signature(secret, delivery_id, timestamp, body)
    headers = {
        mlflow_constants.WEBHOOK_DELIVERY_ID_HEADER: delivery_id,
        mlflow_constants.WEBHOOK_TIMESTAMP_HEADER: timestamp,
        mlflow_constants.WEBHOOK_SIGNATURE_HEADER: ours,
    }
    assert verify(secret, headers, body)
    assert not verify(secret, headers, body + " ")
    assert not verify(secret + "x", headers, body)
    assert not verify(secret, {**headers, "X-MLflow-Timestamp": "1718000001"}, body)


def test_header_names_are_mlflows() -> None:
    assert rules.SIGNATURE_HEADER == mlflow_constants.WEBHOOK_SIGNATURE_HEADER
    assert rules.TIMESTAMP_HEADER == mlflow_constants.WEBHOOK_TIMESTAMP_HEADER
    assert rules.DELIVERY_ID_HEADER == mlflow_constants.WEBHOOK_DELIVERY_ID_HEADER
    assert rules.SIGNATURE_VERSION == mlflow_constants.WEBHOOK_SIGNATURE_VERSION


# --- what the registry emits -------------------------------------------------------------------


def test_a_new_model_or_prompt() -> None:
    model = rules.registered_model_created("m", {"k": "v"}, "")
    assert (model.entity, model.action) == ("registered_model", "created")
    assert model.payload == {"name": "m", "tags": {"k": "v"}, "description": ""}
    prompt = rules.registered_model_created(
        "p", {"mlflow.prompt.is_prompt": "TRUE", "_mlflow_prompt_type": "text", "k": "v"}, "d"
    )
    assert (prompt.entity, prompt.payload) == (
        "prompt",
        {"name": "p", "tags": {"k": "v"}, "description": "d"},
    )


def test_a_new_version_or_prompt_version() -> None:
    mv = rules.model_version_created("m", 3, "models:/x", "", {"k": "v"}, "")
    assert (mv.entity, mv.payload) == (
        "model_version",
        {
            "name": "m",
            "version": "3",
            "source": "models:/x",
            "run_id": None,
            "tags": {"k": "v"},
            "description": None,
        },
    )
    tags = {"mlflow.prompt.is_prompt": "true", "mlflow.prompt.text": "Hi {{x}}", "k": "v"}
    pv = rules.model_version_created("p", 1, "s", None, tags, "d")
    assert (pv.entity, pv.payload) == (
        "prompt_version",
        {
            "name": "p",
            "version": "1",
            "template": "Hi {{x}}",
            "tags": {"k": "v"},
            "description": "d",
        },
    )


def test_tags_and_aliases() -> None:
    assert rules.registered_model_tag_set(False, "m", "k", "v") is None
    assert rules.registered_model_tag_deleted(False, "m", "k") is None
    tag_set = rules.registered_model_tag_set(True, "p", "k", "v")
    assert tag_set is not None
    assert tag_set.entity == "prompt_tag"
    assert rules.model_version_tag_set(False, "m", "1", "k", "v").entity == "model_version_tag"
    assert rules.model_version_tag_deleted(True, "p", "1", "k").entity == "prompt_version_tag"
    created = rules.alias_set(False, "m", "champion", "2")
    assert (created.entity, created.action, created.payload) == (
        "model_version_alias",
        "created",
        {"name": "m", "alias": "champion", "version": "2"},
    )
    gone = rules.alias_deleted(True, "p", "prod")
    assert (gone.entity, gone.action, gone.payload) == (
        "prompt_alias",
        "deleted",
        {"name": "p", "alias": "prod"},
    )
    for emission in (created, gone, tag_set):
        rules.event(emission.entity, emission.action)  # every builder makes a valid event
