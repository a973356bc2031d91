"""MLflow 3's WebhookService handlers: ``/2.0/mlflow/webhooks`` (administrators only).

Read as MLflow's handlers read the message: on update, an empty name or URL and an empty event
list change nothing, a present description or secret (even empty) is set; an unknown status is
ignored. Events are ``{"entity": "MODEL_VERSION", "action": "CREATED"}`` (proto enum names or
numbers); one MLflow cannot read (a 500 there) is a 400 here. The secret is never rendered.

The webhook configuration (secret key, SSRF policy) is the app's: ``ctx.webhooks``.
"""

from __future__ import annotations

from typing import Any

from runyard.api.request import Message, missing
from runyard.domain import webhooks as rules
from runyard.domain.webhooks import Event, TestResult, Webhook
from runyard.errors import InvalidParameterValue, InvalidState
from runyard.services import webhooks
from runyard.services.context import Ctx
from runyard.services.webhooks import WebhookConfig

Json = dict[str, Any]


def config_of(ctx: Ctx) -> WebhookConfig:
    if ctx.webhooks is None:  # a context built without the app's lifespan (admin commands)
        raise InvalidState("Webhooks are not configured on this server.")
    return ctx.webhooks


def render_webhook(webhook: Webhook) -> Json:
    out: Json = {"webhook_id": webhook.webhook_id, "name": webhook.name}
    if webhook.description:
        out["description"] = webhook.description
    out["url"] = webhook.url
    out["events"] = [
        {"entity": e.entity.upper(), "action": e.action.upper()} for e in webhook.events
    ]
    out["status"] = webhook.status
    out["creation_timestamp"] = webhook.creation_timestamp
    out["last_updated_timestamp"] = webhook.last_updated_timestamp
    return out


def render_result(result: TestResult) -> Json:
    out: Json = {"success": result.success}
    if result.response_status is not None:
        out["response_status"] = result.response_status
    if result.response_body is not None:
        out["response_body"] = result.response_body
    if result.error_message is not None:
        out["error_message"] = result.error_message
    return out


def _event(msg: Message) -> Event:
    # Proto JSON: a name or number; what is neither reads as unspecified (0), no event.
    entity = msg.enum("entity", rules.ENTITY_NAMES, "")
    action = msg.enum("action", rules.ACTION_NAMES, "")
    if not entity:
        raise InvalidParameterValue(
            f"Invalid webhook event: entity must be one of {', '.join(rules.ENTITY_NAMES)}."
        )
    if not action:
        raise InvalidParameterValue(
            f"Invalid webhook event: action must be one of {', '.join(rules.ACTION_NAMES)}."
        )
    return rules.event(entity.lower(), action.lower())


def _events(msg: Message) -> list[Event]:
    return [_event(m) for m in msg.messages("events")]


def _status(msg: Message) -> str | None:
    value = msg.enum("status", rules.STATUSES, "")
    return value or None


def create_webhook(ctx: Ctx, msg: Message, _: None) -> Json:
    name = msg.req_text("name")
    url = msg.req_text("url")
    if not msg.has("events"):
        raise missing("events")
    events = _events(msg)
    webhook = webhooks.create(
        ctx,
        config_of(ctx),
        name=name,
        url=url,
        events=events,
        description=msg.text("description") or None,
        secret=msg.text("secret") or None,
        status=_status(msg) or rules.ACTIVE,
    )
    return {"webhook": render_webhook(webhook)}


def list_webhooks(ctx: Ctx, msg: Message, _: None) -> Json:
    page = webhooks.list_webhooks(ctx, msg.integer("max_results"), msg.text("page_token"))
    out: Json = {}
    if page.items:
        out["webhooks"] = [render_webhook(w) for w in page.items]
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return out


def get_webhook(ctx: Ctx, msg: Message, _: None) -> Json:
    return {"webhook": render_webhook(webhooks.get(ctx, msg.path("webhook_id")))}


def update_webhook(ctx: Ctx, msg: Message, _: None) -> Json:
    events = _events(msg)
    webhook = webhooks.update(
        ctx,
        config_of(ctx),
        msg.path("webhook_id"),
        name=msg.text("name") or None,
        description=msg.text("description"),
        url=msg.text("url") or None,
        events=events or None,
        secret=msg.text("secret"),
        status=_status(msg),
    )
    return {"webhook": render_webhook(webhook)}


def delete_webhook(ctx: Ctx, msg: Message, _: None) -> Json:
    webhooks.delete(ctx, msg.path("webhook_id"))
    return {}


def test_webhook(ctx: Ctx, msg: Message, _: None) -> Json:
    given = msg.message("event")
    event = _event(given) if given is not None else None
    result = webhooks.send_test(ctx, config_of(ctx), msg.path("webhook_id"), event)
    return {"result": render_result(result)}
