"""Where a model version's files are: the one rule for the ``source`` of create-model-version.

A version's files are read only from the artifact store runyard serves itself. The service
loads the run or logged model the request names and calls::

    resolve_version_source(source, owner) -> str

``owner`` is the :class:`SourceOwner` MLflow checks the source against: the logged model when
the request has a non-empty ``model_id``, else the run when it has a non-empty ``run_id``, else
``None`` (a request with both ids is checked against the model only, as in MLflow); its
``artifact_uri`` (the run's ``artifact_uri``, the model's ``artifact_location``) is ``None`` when
no run or model has that id. The answer is the version's storage location: an
``mlflow-artifacts:`` URI with the owner's authority and a path that ``artifact_paths.clean``
accepts, inside the owner's artifact root and inside one run's or one model's directory
(``artifact_paths.check_within_owner``). It is what the version stores as ``storage_location``
and what get-download-uri returns; /model-versions/get-artifact reads below its proxied path
(``services.artifacts.proxied_path``). Anything else raises InvalidParameterValue, whose message
starts ``Invalid model version source: '<source>'.`` as MLflow's do (a malformed ``runs:`` URI
keeps MLflow's ``Not a proper runs:/ URI`` text).

Accepted, with ``run_id`` / ``model_id`` linked exactly as MLflow 3.17 links them:

* ``runs:/<run_id>/<path>``: ``run_id`` must name that run (and no ``model_id`` be given);
  resolves to ``<run's artifact root>/<path>``.
* ``models:/<model_id>``: ``model_id`` must name that model; resolves to its artifact root.
* ``mlflow-artifacts:[//<host>]/<path>`` inside the owner's artifact root, with the same host
  as that root (compared case-insensitively, as MLflow does).

Refused, as MLflow's CVEs taught (each replayed in tests/unit/test_model_sources.py): local
paths and ``file:`` URIs, ``//proc/self/root``, any other scheme (``http``, ``s3``, ``dbfs``...),
another host, ``..``, backslashes, ``#`` and ``?``, control characters and any percent-encoding
in the path (runyard never names a stored file with one, so ``%2e%2e`` or ``%252e`` can only be an
attack), and an owner whose own artifact location is not a safe path in the store (experiments
may be created with a hostile ``artifact_location``, so the root is checked as strictly as the
source).

Where runyard is stricter than MLflow 3.17, and why:

* MLflow accepts a local path or ``file:`` URI when ``run_id``/``model_id`` is given and the path
  lies in the owner's local artifact directory, and any non-host scheme (``s3:``, ``gs:``,
  ``dbfs:``...) without checking whose files they are. runyard always proxies artifacts, so a
  version's files are always in its store: it refuses every source outside it rather than read
  files or buckets the server can reach but the client should not.
* MLflow answers ``runs:/<id>/...`` without loading the run; runyard needs the run's artifact root
  to know where the files are, so a run that does not exist, or whose artifacts are not under
  ``mlflow-artifacts:``, is refused.
* MLflow accepts ``http(s)://<host>/api/2.0/mlflow-artifacts/artifacts/...`` when the host is its
  own; a pure rule cannot know which host is "own", so runyard asks for the ``mlflow-artifacts:``
  form the client already has (the run's ``artifact_uri``).
* ``models:/<name>/<version>`` (also ``@alias``, ``/<stage>``, ``/latest``) copies another
  version's lineage in MLflow 3.17 (``copy_model_version`` sends it). That takes a registry
  lookup, so the service resolves such a source before calling this rule (the referenced
  version's location was checked when it was made); one that reaches the rule is refused.
* Any percent-encoding in the path is refused: MLflow decodes it only to look for ``..`` and
  then serves the raw text, so ``%xx`` names a different file than it seems to.
* A malformed ``runs:`` URI (``runs:/``, ``runs:x``) is a 400 here, a 500 in MLflow.

More lenient: ``.`` segments and repeated slashes are normalised away (MLflow refuses ``.``).
Prompt versions carry no files and only a placeholder source: :func:`check_prompt_source`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, NamedTuple

from runyard.domain import artifact_paths
from runyard.errors import InvalidParameterValue

PROXY_SCHEME = "mlflow-artifacts"
# The placeholders MLflow's own clients send as a prompt version's source (the API requires one).
PROMPT_SOURCES = frozenset({"dummy-source", "prompt-template"})

# Two letters at least: "C:" is a Windows drive, i.e. a local path.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")
_AUTHORITY = re.compile(r"^(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")
_HINT = (
    "A model version's files must be in this server's artifact store: use "
    "runs:/<run_id>/<path>, models:/<model_id>, or an mlflow-artifacts: location inside the "
    "run's or the logged model's artifacts."
)
_RUNS_FORM = "Runs URIs must be of the form 'runs:/<run_id>/run-relative/path/to/artifact'"


@dataclass(frozen=True)
class SourceOwner:
    """The run or logged model a create-model-version request names, as the service found it."""

    kind: Literal["run", "model"]
    id: str  # the request's run_id or model_id
    artifact_uri: str | None  # its artifact_uri / artifact_location; None: no such run or model

    @property
    def field(self) -> str:
        return f"{self.kind}_id"


def resolve_version_source(source: str, owner: SourceOwner | None) -> str:
    """The storage location of a version registered from ``source``, or InvalidParameterValue."""
    scheme, authority, path = _split(source)
    if scheme == "runs":
        return _from_runs_uri(source, authority, path, owner)
    if scheme == "models":
        return _from_models_uri(source, authority, path, owner)
    if scheme == PROXY_SCHEME:
        return _from_proxied_uri(source, authority, path, owner)
    if scheme in ("", "file"):
        raise _invalid(source, f"Local paths and file: URIs are not served. {_HINT}")
    raise _invalid(source, f"The '{scheme}' scheme is not served. {_HINT}")


def check_prompt_source(source: str) -> None:
    """A prompt version's source is one of MLflow's placeholders: it names no files at all.

    Anything else would let the prompt tag carry a path past :func:`resolve_version_source`
    (CVE-2026-2614); a prompt version therefore has no storage location.
    """
    if source not in PROMPT_SOURCES:
        raise InvalidParameterValue(
            f"Invalid prompt source: '{source}'. Prompt sources must use an MLflow placeholder."
        )


def _from_runs_uri(source: str, authority: str | None, path: str, owner: SourceOwner | None) -> str:
    field = "model_id" if owner is not None and owner.kind == "model" else "run_id"
    if authority is not None:
        raise _not_contained(source, field)
    run_id, _, rel = path.removeprefix("/").partition("/")
    if not path.startswith("/") or not run_id:
        raise InvalidParameterValue(f"Not a proper runs:/ URI: {source}. {_RUNS_FORM}")
    _check_id(source, run_id)
    rel = _clean(source, rel)
    if owner is None or owner.kind != "run" or owner.id != run_id:
        raise _not_contained(source, field)
    root = _root(source, owner)
    return _inside(source, owner, root, artifact_paths.join(root.path, rel))


def _from_models_uri(
    source: str, authority: str | None, path: str, owner: SourceOwner | None
) -> str:
    if authority is not None:
        raise _invalid(source, "Registered model sources must use the active model registry.")
    model_id = _logged_model_id(source, path)
    if owner is None or owner.kind != "model" or owner.id != model_id:
        raise _not_contained(source, "model_id")
    root = _root(source, owner)
    return _inside(source, owner, root, root.path)


def _from_proxied_uri(
    source: str, authority: str | None, path: str, owner: SourceOwner | None
) -> str:
    location = _clean(source, path.removeprefix("/"))
    if owner is None:
        raise _not_contained(source, "run_id")
    root = _root(source, owner)
    if (authority or "").lower() != (root.authority or "").lower():
        named = f"the host '{authority}'" if authority else "no host"
        serving = f"the host '{root.authority}'" if root.authority else "this server (no host)"
        raise _invalid(
            source, f"It names {named}, but the {owner.kind}'s artifacts are served by {serving}."
        )
    return _inside(source, owner, root, location)


def _logged_model_id(source: str, path: str) -> str:
    """``models:/<model_id>``'s id, parsed as MLflow parses a models:/ URI."""
    parts = path.removeprefix("/").split("/")
    if not path.startswith("/") or len(parts) > 2 or not parts[0].strip():
        raise _not_contained(source, "model_id")
    if len(parts) == 2 or "@" in parts[0]:
        version_or_alias = parts[1] if len(parts) == 2 else parts[0].rpartition("@")[2]
        if not version_or_alias.strip():
            raise _not_contained(source, "model_id")
        raise _invalid(
            source,
            "It names a registered model version (models:/<name>/<version>, @<alias> or "
            "/<stage>); registering a version from another version is not supported. Register "
            "its run's or logged model's artifacts instead (runs:/<run_id>/<path> or "
            "models:/<model_id>).",
        )
    _check_id(source, parts[0])
    return parts[0]


class _Root(NamedTuple):
    authority: str | None
    path: str  # clean, never the store's root


def _root(source: str, owner: SourceOwner) -> _Root:
    """The owner's artifact root in the store, checked as strictly as a source."""
    if owner.artifact_uri is None:
        raise _not_contained(source, owner.field)
    scheme, authority, path = _split(owner.artifact_uri)
    if scheme != PROXY_SCHEME:
        raise _invalid(
            source,
            f"The {owner.kind} '{owner.id}' keeps its artifacts at '{owner.artifact_uri}', "
            "which this server does not serve, so no version can be registered from them.",
        )
    if authority is not None and not _AUTHORITY.match(authority):
        raise _unsafe_root(source, owner, f"the host '{authority}' is malformed.")
    try:
        return _Root(authority, artifact_paths.clean(path.removeprefix("/"), allow_root=False))
    except InvalidParameterValue as exc:
        raise _unsafe_root(source, owner, exc.message) from exc


def _inside(source: str, owner: SourceOwner, root: _Root, location: str) -> str:
    if location != root.path and not location.startswith(root.path + "/"):
        raise _not_contained(source, owner.field)
    try:
        # The store's root, an experiment's directory or the models/ directory of many models
        # are never one version's files, whatever an imported run claims as its root.
        artifact_paths.check_within_owner(location, file=False)
    except InvalidParameterValue as exc:
        raise _invalid(
            source,
            f"It resolves to '{location}', which is not inside one run's or one logged model's "
            "artifacts.",
        ) from exc
    if root.authority:
        return f"{PROXY_SCHEME}://{root.authority}/{location}"
    return f"{PROXY_SCHEME}:/{location}"


def split_runs_uri(uri: str) -> tuple[str, str]:
    """(run id, run-relative path) of a ``runs:/<run_id>/<path>`` location this module
    accepted earlier (a version's stored source)."""
    _, _, rest = _split(uri)
    run_id, _, path = rest.lstrip("/").partition("/")
    return run_id, path


def _split(uri: str) -> tuple[str, str | None, str]:
    """(lower-case scheme or "", authority or None, the rest); an empty authority is none."""
    match = _SCHEME.match(uri)
    if match is None:
        return "", None, uri
    scheme, rest = match.group(1).lower(), uri[match.end() :]
    if not rest.startswith("//"):
        return scheme, None, rest
    authority, slash, path = rest[2:].partition("/")
    return scheme, authority or None, slash + path


def _clean(source: str, path: str) -> str:
    try:
        return artifact_paths.clean(path)
    except InvalidParameterValue as exc:
        raise _invalid(source, exc.message) from exc


def _check_id(source: str, value: str) -> None:
    """A run or model id in a URI is one plain name (``..``, ``#``... fail like any path)."""
    if _clean(source, value) != value:
        raise _invalid(source, f"'{value}' is not a run or model id.")


def _unsafe_root(source: str, owner: SourceOwner, why: str) -> InvalidParameterValue:
    return _invalid(
        source,
        f"The {owner.kind} '{owner.id}' has the artifact location '{owner.artifact_uri}', which "
        f"is not a safe place in this server's artifact store: {why}",
    )


def _not_contained(source: str, field: str) -> InvalidParameterValue:
    return _invalid(
        source,
        f"The {field} request parameter must identify the resource that contains the source.",
    )


def _invalid(source: str, detail: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"Invalid model version source: '{source}'. {detail}")
