"""What each route reads, so that generated requests get past the first checks.

For every path of the route table (``runyard.api.routes``, without its ``/api`` or ``/ajax-api``
mount) a :class:`Spec` names the message fields its handler and its resource read (in
``api/tracking.py``, ``logged_models.py``, ``registry.py``, ``artifacts.py``, ``auth.py``,
``resources.py``) and
how to make a plausible value for each: a real id of the fixture, an enum name, a near-valid
filter. A route missing here fails ``test_every_route_has_a_spec``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fuzz import gen
from tests.fuzz.gen import Gen


@dataclass
class Targets:
    """What generated requests may point at: ids and paths the fixture created."""

    experiments: list[str]
    names: list[str]
    runs: list[str]
    models: list[str]
    artifacts: list[str]  # proxy paths ("<experiment>/<run>/artifacts/f.txt") and directories
    run_files: list[str] = field(default_factory=lambda: ["", "f.txt", "d", "d/g.json", "big.bin"])
    model_files: list[str] = field(default_factory=lambda: ["", "m.txt", "d"])
    users: list[str] = field(default_factory=lambda: ["admin", "alice", "bob", "carol"])
    uploads: list[str] = field(default_factory=list)  # multipart upload ids
    registered_models: list[str] = field(default_factory=list)  # names
    versions: list[str] = field(default_factory=lambda: ["1", "2", "3"])  # as MLflow sends them
    aliases: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # model version sources that resolve
    # files below the fixture's versions (version 1: the run's d/, version 2: a logged model)
    version_files: list[str] = field(default_factory=lambda: ["", "g.json", "m.txt", "d/n.bin"])


Kind = Callable[[Gen, Targets], Any]

_JUNK_IDS = ["0", "-1", "1", "999999", "9" * 30, "abc", "1.5", " 1", "1 ", "0x1", "１", "²"]
_TAME_KEYS = ["m", "p", "t", "a.b", "loss", "x_y", "a/b"]

# Each kind makes a value for one field. While ``g.tame`` is set it makes a plausible one (a
# real id, a short name, a small number): a tame case is a valid request with one field gone
# wrong, which reaches the services and the database rather than the first type check.


def _real(attr: str) -> Kind:
    """Mostly an id or path of the fixture; else one that does not exist, or anything at all."""

    def make(g: Gen, t: Targets) -> Any:
        real = getattr(t, attr)
        roll = g.rng.random()
        if real and (g.tame or roll < 0.65):
            return g.pick(real)
        if roll < 0.85:
            return g.pick([*_JUNK_IDS, g.hex(), g.text(8)])
        return g.json(1)

    return make


EXPERIMENT, RUN, MODEL, NAME = _real("experiments"), _real("runs"), _real("models"), _real("names")
ARTIFACT, RUN_FILE, MODEL_FILE, USER = (
    _real("artifacts"),
    _real("run_files"),
    _real("model_files"),
    _real("users"),
)
UPLOAD = _real("uploads")
REGISTERED, VERSION, ALIAS = _real("registered_models"), _real("versions"), _real("aliases")
VERSION_FILE = _real("version_files")
_SUFFIXES = [*_JUNK_IDS, "latest", "Staging", "", "1/2", "@champion", "2147483648", "٣", "⑦"]


def _source(g: Gen, t: Targets) -> Any:
    """A version's source: one that resolves, or a models:/ URI with an odd version, stage
    or alias, or anything at all."""
    if t.registered_models and g.chance(0.3):
        sep = "@" if g.chance(0.2) else "/"
        return f"models:/{g.pick(t.registered_models)}{sep}{g.pick(_SUFFIXES)}"
    return _real("sources")(g, t)


def _text(g: Gen, t: Targets) -> Any:
    if g.tame:
        return g.word()
    if g.chance(0.12):
        return g.long_text()
    return g.pick([g.text(), g.text(), g.pick(gen.ODD_STRINGS), g.json(1)])


def _key(g: Gen, t: Targets) -> Any:
    if g.tame:
        return g.pick(_TAME_KEYS)
    return g.pick([g.key(), g.key(), g.pick(gen.ODD_STRINGS), g.json(1)])


def _time(g: Gen, t: Targets) -> Any:
    return 1_700_000_000_000 + g.rng.randint(0, 10**6) if g.tame else _int(g, t)


def _int(g: Gen, t: Targets) -> Any:
    if g.tame:
        return g.rng.randint(1, 100)
    value = g.integer()
    as_float = float(value) if abs(value) < 2**80 else value
    return g.pick([value, value, str(value), as_float, g.leaf()])


def _num(g: Gen, t: Targets) -> Any:
    if g.tame:
        return g.rng.uniform(-10, 10)
    return g.pick([g.number(), g.number(), g.pick(gen.FLOAT_WORDS), g.leaf()])


def _flag(g: Gen, t: Targets) -> Any:
    if g.tame:
        return g.pick([True, False])
    return g.pick([True, False, "true", "false", "TRUE", "yes", 1, 0, None, g.text(4)])


def optional(kind: Kind) -> Kind:
    """A field a tame request often leaves out (sent empty): one whose value changes what the
    others must be (create-model-version's model_id decides what its source may be)."""

    def make(g: Gen, t: Targets) -> Any:
        return "" if g.tame and g.chance(0.5) else kind(g, t)

    return make


def enum(*names: str) -> Kind:
    def make(g: Gen, t: Targets) -> Any:
        if g.tame:
            return g.pick(names)
        return g.pick([*names, g.rng.randint(-2, len(names) + 2), g.text(6), g.leaf()])

    return make


def _page_token(g: Gen, t: Targets) -> Any:
    if g.tame:  # a real token must echo its request (logged models): none at all
        return ""
    offset = g.pick([0, 1, -1, 2**63, 10**30, "1", None, 1.5])
    token = {"offset": offset} if g.chance(0.7) else g.json(2)
    raw = json.dumps(token).encode()
    return g.pick([base64.b64encode(raw).decode(), raw.decode(), g.text(12), "=", g.leaf()])


def filters(identifiers: list[str]) -> Kind:
    def make(g: Gen, t: Targets) -> Any:
        if g.tame and g.chance(0.5):
            return ""  # no filter: the rest of a tame search decides the answer
        return gen.filter_string(g, identifiers) if g.tame or g.chance(0.9) else g.json(1)

    return make


def orderings(identifiers: list[str]) -> Kind:
    def make(g: Gen, t: Targets) -> Any:
        if g.tame and g.chance(0.5):
            return []
        return gen.order_by(g, identifiers) if g.tame or g.chance(0.9) else g.json(1)

    return make


def many(item: Kind) -> Kind:
    """A repeated field: a list of items (sometimes very long), or not a list at all."""

    def make(g: Gen, t: Targets) -> Any:
        if g.tame:
            return [item(g, t) for _ in range(g.rng.randint(1, 3))]
        return g.many(lambda: item(g, t)) if g.chance(0.85) else g.json(1)

    return make


def message(fields: dict[str, Kind]) -> Kind:
    """A nested message: some of its fields, sometimes junk ones, sometimes not an object."""

    def make(g: Gen, t: Targets) -> Any:
        return structured(g, t, fields) if g.tame or g.chance(0.85) else g.json(2)

    return make


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def structured(g: Gen, t: Targets, fields: dict[str, Kind]) -> dict[str, Any]:
    """Some of ``fields`` with plausible values (or any value), spelled as MLflow allows."""
    if g.tame:
        return {name: kind(g, t) for name, kind in fields.items()}
    out: dict[str, Any] = {}
    for name, kind in fields.items():
        if not g.chance(0.75):
            continue
        value = kind(g, t) if g.chance(0.85) else g.json(2)
        spelling = name
        if "_" in name and g.chance(0.1):
            spelling = _camel(name)
            if g.chance(0.3):  # both spellings
                out[name] = value
        out[spelling] = value
    if g.chance(0.15):
        out[g.key()] = g.json(2)
    if g.chance(0.03):
        out[g.pick(list(fields) or ["x"])] = g.deep()
    return out


def near_valid(g: Gen, t: Targets, fields: dict[str, Kind]) -> dict[str, Any]:
    """A plausible message with one field (at any depth of the top level) made hostile."""
    g.tame = True
    try:
        out = structured(g, t, fields)
    finally:
        g.tame = False
    if fields and g.chance(0.8):
        name = g.pick(list(fields))
        out[name] = fields[name](g, t)
    return out


@dataclass(frozen=True)
class Spec:
    """A route's fields; ``raw``: its message is the query string alone (the body is bytes the
    handler streams, or nothing); ``weight``: how many times the base number of cases."""

    fields: dict[str, Kind] = field(default_factory=dict)
    raw: bool = False
    weight: int = 1


KV = message({"key": _key, "value": _text})
_METRIC = {
    "key": _key,
    "value": _num,
    "timestamp": _time,
    "step": _int,
    "model_id": MODEL,
    "dataset_name": _text,
    "dataset_digest": _text,
}
METRIC = message(_METRIC)  # one of log-batch's metrics; log-metric's body adds the run
DATASET_INPUT = message(
    {
        "dataset": message(
            {
                "name": _text,
                "digest": _text,
                "source_type": enum("local", "s3", "code"),
                "source": _text,
                "schema": _text,
                "profile": _text,
            }
        ),
        "tags": many(KV),
    }
)
MODEL_ORDER = message(
    {
        "field_name": enum("name", "creation_timestamp", "metrics.m", "metrics.`a b`", "x.y"),
        "ascending": _flag,
        "dataset_name": _text,
        "dataset_digest": _text,
    }
)
_REGISTRY_TAG_KEYS = ["t", "a.b", "mlflow.prompt.is_prompt", "mlflow.prompt.text", "x y"]


def _registry_key(g: Gen, t: Targets) -> Any:
    return g.pick(_REGISTRY_TAG_KEYS) if g.tame else _key(g, t)


def _registry_value(g: Gen, t: Targets) -> Any:
    return g.pick(["true", "false", "x", "TRUE"]) if g.tame else _text(g, t)


def _model_name(g: Gen, t: Targets) -> Any:
    """A new model's name: a fresh word, or one that is taken (a registered model's)."""
    if t.registered_models and g.chance(0.3):
        return g.pick(t.registered_models)
    return _text(g, t)


def _new_name(g: Gen, t: Targets) -> Any:
    """Mostly a fixture's name: taken (a 409), or free again once renamed away, so that the
    renames keep the fixture's names in use for the deletes after them."""
    if t.registered_models and g.chance(0.6):
        return g.pick(t.registered_models)
    return _text(g, t)


def _alias(g: Gen, t: Targets) -> Any:
    if g.tame and g.chance(0.3):
        return g.pick(["latest", "LATEST", "v1", "V2", "new_alias", "a-b"])
    return ALIAS(g, t)


REGISTRY_KV = message({"key": _registry_key, "value": _registry_value})
STAGE = enum("None", "Staging", "Production", "Archived", "staging", "PRODUCTION", "Deleted")
PERMISSION = enum("READ", "EDIT", "MANAGE", "NO_PERMISSIONS", "read", "ADMIN")

_EXPERIMENT_SEARCH = {
    "max_results": _int,
    "filter": filters(gen.EXPERIMENT_IDENTIFIERS),
    "view_type": enum("ACTIVE_ONLY", "DELETED_ONLY", "ALL"),
    "order_by": orderings(gen.EXPERIMENT_IDENTIFIERS),
    "page_token": _page_token,
}
_RUN_FIELDS = {"run_id": RUN, "run_uuid": RUN}
_METRIC_FIELDS = {**_RUN_FIELDS, **_METRIC}
_PERMISSION_FIELDS = {"experiment_id": EXPERIMENT, "username": USER, "permission": PERMISSION}
_MODEL_PERMISSION_FIELDS = {"name": REGISTERED, "username": USER, "permission": PERMISSION}

_REGISTRY_SEARCH = {"max_results": _int, "page_token": _page_token}
_MODEL_SEARCH = {
    "filter": filters(gen.REGISTERED_MODEL_IDENTIFIERS),
    "order_by": orderings(gen.REGISTERED_MODEL_IDENTIFIERS),
    **_REGISTRY_SEARCH,
}
_VERSION_SEARCH = {
    "filter": filters(gen.MODEL_VERSION_IDENTIFIERS),
    "order_by": orderings(gen.MODEL_VERSION_IDENTIFIERS),
    **_REGISTRY_SEARCH,
}
_RM = {"name": REGISTERED}
# Webhooks: only addresses the SSRF rule refuses without a DNS lookup, so that no webhook the
# fuzzer makes can send anything anywhere.
_WEBHOOK_EVENT = message(
    {
        "entity": enum("REGISTERED_MODEL", "MODEL_VERSION", "MODEL_VERSION_TAG", "PROMPT"),
        "action": enum("CREATED", "UPDATED", "DELETED", "SET"),
    }
)
_WEBHOOK = {
    "name": _text,
    "url": enum("http://127.0.0.1:1/h", "https://10.0.0.1/h", "http://[::1]/", "ftp://1.2.3.4/"),
    "events": many(_WEBHOOK_EVENT),
    "description": _text,
    "secret": _text,
    "status": enum("ACTIVE", "DISABLED"),
}
_MV = {"name": REGISTERED, "version": VERSION}

T = "/2.0/mlflow"
A = "/2.0/mlflow-artifacts"
LM = f"{T}/logged-models/{{model_id}}"
RM, MV = f"{T}/registered-models", f"{T}/model-versions"
WH = f"{T}/webhooks"

SPECS: dict[str, Spec] = {
    "/health": Spec(),
    "/version": Spec(),
    "/ready": Spec(),
    "/metrics": Spec(),
    "/3.0/mlflow/server-info": Spec(),
    f"{T}/experiments/create": Spec(
        {
            "name": _text,
            "artifact_location": enum("", "file:///etc", "s3://b/k", "../x", "mlflow-artifacts:/"),
            "tags": many(KV),
        }
    ),
    f"{T}/experiments/get": Spec({"experiment_id": EXPERIMENT}),
    f"{T}/experiments/get-by-name": Spec({"experiment_name": NAME}),
    f"{T}/experiments/search": Spec(_EXPERIMENT_SEARCH, weight=3),
    f"{T}/experiments/update": Spec({"experiment_id": EXPERIMENT, "new_name": _text}),
    f"{T}/experiments/delete": Spec({"experiment_id": EXPERIMENT}),
    f"{T}/experiments/restore": Spec({"experiment_id": EXPERIMENT}),
    f"{T}/experiments/set-experiment-tag": Spec(
        {"experiment_id": EXPERIMENT, "key": _key, "value": _text}
    ),
    f"{T}/experiments/delete-experiment-tag": Spec({"experiment_id": EXPERIMENT, "key": _key}),
    f"{T}/runs/create": Spec(
        {
            "experiment_id": EXPERIMENT,
            "user_id": _text,
            "run_name": _text,
            "start_time": _time,
            "tags": many(KV),
        }
    ),
    f"{T}/runs/get": Spec(_RUN_FIELDS),
    f"{T}/runs/update": Spec(
        {
            **_RUN_FIELDS,
            "status": enum("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"),
            "end_time": _time,
            "run_name": _text,
        }
    ),
    f"{T}/runs/delete": Spec({"run_id": RUN}),
    f"{T}/runs/restore": Spec({"run_id": RUN}),
    f"{T}/runs/search": Spec(
        {
            "experiment_ids": many(EXPERIMENT),
            "filter": filters(gen.RUN_IDENTIFIERS),
            "run_view_type": enum("ACTIVE_ONLY", "DELETED_ONLY", "ALL"),
            "max_results": _int,
            "order_by": orderings(gen.RUN_IDENTIFIERS),
            "page_token": _page_token,
        },
        weight=4,
    ),
    f"{T}/runs/log-metric": Spec(_METRIC_FIELDS, weight=2),
    f"{T}/runs/log-parameter": Spec({**_RUN_FIELDS, "key": _key, "value": _text}),
    f"{T}/runs/set-tag": Spec({**_RUN_FIELDS, "key": _key, "value": _text}),
    f"{T}/runs/delete-tag": Spec({"run_id": RUN, "key": _key}),
    f"{T}/runs/log-batch": Spec(
        {"run_id": RUN, "metrics": many(METRIC), "params": many(KV), "tags": many(KV)}, weight=2
    ),
    f"{T}/runs/log-inputs": Spec(
        {
            "run_id": RUN,
            "datasets": many(DATASET_INPUT),
            "models": many(message({"model_id": MODEL})),
        }
    ),
    f"{T}/runs/outputs": Spec(
        {"run_id": RUN, "models": many(message({"model_id": MODEL, "step": _int}))}
    ),
    f"{T}/metrics/get-history": Spec(
        {**_RUN_FIELDS, "metric_key": _key, "max_results": _int, "page_token": _page_token}
    ),
    f"{T}/metrics/get-history-bulk-interval": Spec(
        {
            "run_ids": many(RUN),
            "metric_key": _key,
            "start_step": _int,
            "end_step": _int,
            "max_results": _int,
        }
    ),
    f"{T}/metrics/get-history-bulk": Spec(
        {"run_id": many(RUN), "metric_key": _key, "max_results": _int}
    ),
    f"{T}/logged-models": Spec(
        {
            "experiment_id": EXPERIMENT,
            "name": _text,
            "model_type": _text,
            "source_run_id": RUN,
            "params": many(KV),
            "tags": many(KV),
        }
    ),
    f"{T}/logged-models/search": Spec(
        {
            "experiment_ids": many(EXPERIMENT),
            "filter": filters(gen.MODEL_IDENTIFIERS),
            "datasets": many(message({"dataset_name": _text, "dataset_digest": _text})),
            "max_results": _int,
            "order_by": many(MODEL_ORDER),
            "page_token": _page_token,
        },
        weight=4,
    ),
    LM: Spec(
        {
            "model_id": MODEL,
            "allow_deleted": _flag,
            "status": enum(
                "LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"
            ),
        }
    ),
    f"{LM}/tags": Spec({"tags": many(KV)}),
    f"{LM}/tags/{{tag_key}}": Spec(),
    f"{LM}/params": Spec({"model_id": MODEL, "params": many(KV)}),
    f"{LM}/artifacts/directories": Spec({"artifact_directory_path": MODEL_FILE}),
    f"{LM}/artifacts/files": Spec({"artifact_file_path": MODEL_FILE}),
    f"{RM}/create": Spec({"name": _model_name, "tags": many(REGISTRY_KV), "description": _text}),
    f"{RM}/get": Spec(_RM),
    f"{RM}/rename": Spec({**_RM, "new_name": _new_name}),
    f"{RM}/update": Spec({**_RM, "description": _text}),
    f"{RM}/delete": Spec(_RM),
    f"{RM}/search": Spec(_MODEL_SEARCH, weight=2),
    f"{RM}/get-latest-versions": Spec({**_RM, "stages": many(STAGE)}),
    f"{RM}/set-tag": Spec({**_RM, "key": _registry_key, "value": _registry_value}),
    f"{RM}/delete-tag": Spec({**_RM, "key": _registry_key}),
    f"{RM}/alias": Spec({**_RM, "alias": _alias, "version": VERSION}),
    f"{MV}/create": Spec(
        {
            **_RM,
            "source": _source,
            "run_id": optional(RUN),
            "model_id": optional(MODEL),
            "run_link": _text,
            "description": _text,
            "tags": many(REGISTRY_KV),
        },
        weight=2,
    ),
    f"{MV}/get": Spec(_MV),
    f"{MV}/update": Spec({**_MV, "description": _text}),
    f"{MV}/transition-stage": Spec({**_MV, "stage": STAGE, "archive_existing_versions": _flag}),
    f"{MV}/delete": Spec(_MV),
    f"{MV}/get-download-uri": Spec(_MV),
    f"{MV}/search": Spec(_VERSION_SEARCH, weight=2),
    f"{MV}/set-tag": Spec({**_MV, "key": _registry_key, "value": _registry_value}),
    f"{MV}/delete-tag": Spec({**_MV, "key": _registry_key}),
    WH: Spec({**_WEBHOOK, "max_results": _int, "page_token": _page_token}),
    f"{WH}/{{webhook_id}}": Spec(_WEBHOOK),
    f"{WH}/{{webhook_id}}/test": Spec({"event": _WEBHOOK_EVENT}),
    f"{T}/artifacts/list": Spec({**_RUN_FIELDS, "path": RUN_FILE, "page_token": _page_token}),
    "/get-artifact": Spec({**_RUN_FIELDS, "path": RUN_FILE}),
    "/model-versions/get-artifact": Spec({**_MV, "path": VERSION_FILE}),
    f"{A}/artifacts": Spec({"path": ARTIFACT}, raw=True),
    f"{A}/artifacts/{{path:path}}": Spec(raw=True, weight=2),
    f"{A}/mpu/create/{{path:path}}": Spec({"path": _text, "num_parts": _int}),
    f"{A}/mpu/complete/{{path:path}}": Spec(
        {
            "path": RUN_FILE,
            "upload_id": UPLOAD,
            "parts": many(message({"part_number": _int, "etag": _text})),
        }
    ),
    f"{A}/mpu/abort/{{path:path}}": Spec({"path": RUN_FILE, "upload_id": UPLOAD}),
    f"{A}/mpu/part/{{upload_id}}/{{number:int}}": Spec({"path": ARTIFACT}, raw=True),
    f"{T}/users/current": Spec(),
    f"{T}/experiments/permissions/create": Spec(_PERMISSION_FIELDS),
    f"{T}/experiments/permissions/get": Spec(_PERMISSION_FIELDS),
    f"{T}/experiments/permissions/update": Spec(_PERMISSION_FIELDS),
    f"{T}/experiments/permissions/delete": Spec(_PERMISSION_FIELDS),
    f"{RM}/permissions/create": Spec(_MODEL_PERMISSION_FIELDS),
    f"{RM}/permissions/get": Spec(_MODEL_PERMISSION_FIELDS),
    f"{RM}/permissions/update": Spec(_MODEL_PERMISSION_FIELDS),
    f"{RM}/permissions/delete": Spec(_MODEL_PERMISSION_FIELDS),
}

# For a route this table does not know yet: every field name above, with its kind.
ANY_FIELDS: dict[str, Kind] = {
    name: kind for spec in SPECS.values() for name, kind in spec.fields.items()
}
