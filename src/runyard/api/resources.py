"""What a request acts on, read once from the decoded request.

Each route names one resource kind. The endpoint parses the request into that resource's value
once; the permission check and the handler are both given that same value, so they cannot act on
different experiments, runs, models or paths. A field is read from exactly one spelling the route
allows (the URL path, or the message: the query string for GET, else the JSON body, each in
snake_case or lowerCamelCase as MLflow accepts).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Generic, TypeVar

from runyard.api.request import Message, missing
from runyard.domain import artifact_paths, validation
from runyard.services import artifacts as artifact_service
from runyard.services import registry as registry_service
from runyard.services.auth import Target

T = TypeVar("T")


class Access(enum.Enum):
    """How a route's permission is decided."""

    PUBLIC = "public"  # no credentials at all (probes, version, server-info)
    SIGNED_IN = "signed-in"  # any authenticated user
    ADMIN = "admin"  # administrators only
    NEW_EXPERIMENT = "new-experiment"  # any user; the creator gets MANAGE on what they create
    READABLE = "readable"  # any user; the answer keeps only experiments they may read
    # the permission on the experiment(s) the resource resolves to, or on the registered
    # model it names (services/auth.Authoriser.check)
    TARGET = "target"
    NEW_REGISTERED_MODEL = "new-registered-model"  # any user; the creator gets MANAGE on it
    # any user; the registry's searches return only the models (and their versions) the
    # user may read, filtered in the query: the handler is given the caller's scope
    READABLE_REGISTERED_MODELS = "readable-registered-models"


class Resource(Generic[T]):
    """A kind of resource: how to read it from a request, and which experiments it names."""

    access = Access.TARGET

    def parse(self, msg: Message) -> T:
        raise NotImplementedError

    def target(self, value: T) -> Target | None:
        """The ids to authorise; None when the value names no experiment (admins only)."""
        raise NotImplementedError

    def reads(self, value: T) -> Target | None:
        """What else the route reads, which needs READ whatever the route's permission is."""
        return None


class NoResource(Resource[None]):
    """A route that acts on no particular experiment; ``access`` says who may call it."""

    def __init__(self, access: Access) -> None:
        self.access = access

    def parse(self, msg: Message) -> None:
        return None

    def target(self, value: None) -> Target | None:
        return None


PUBLIC = NoResource(Access.PUBLIC)
SIGNED_IN = NoResource(Access.SIGNED_IN)
ADMIN = NoResource(Access.ADMIN)
NEW_EXPERIMENT = NoResource(Access.NEW_EXPERIMENT)
READABLE_EXPERIMENTS = NoResource(Access.READABLE)


@dataclass(frozen=True, slots=True)
class Experiment(Resource[str]):
    """``field`` holds an experiment id; ``default`` applies when it is absent (create-run
    falls back to experiment 0, as MLflow does)."""

    field: str = "experiment_id"
    default: str | None = None

    def parse(self, msg: Message) -> str:
        value = msg.text(self.field) or self.default
        if not value:
            raise missing(self.field)
        return value

    def target(self, value: str) -> Target:
        return Target(experiments=[validation.parse_experiment_id(value)])


@dataclass(frozen=True, slots=True)
class Experiments(Resource[list[str]]):
    """A repeated field of experiment ids: every one is checked."""

    field: str = "experiment_ids"

    def parse(self, msg: Message) -> list[str]:
        ids = msg.texts(self.field)
        validation.check_experiment_ids(len(ids))  # before the permission check queries them
        return ids

    def target(self, value: list[str]) -> Target:
        return Target(experiments=[validation.parse_experiment_id(v) for v in value])


@dataclass(frozen=True, slots=True)
class ExperimentName(Resource[str]):
    field: str = "experiment_name"

    def parse(self, msg: Message) -> str:
        return msg.req_text(self.field)

    def target(self, value: str) -> Target:
        return Target(names=[value])


@dataclass(frozen=True, slots=True)
class Run(Resource[str]):
    """A run id; ``legacy``: the message also has the deprecated ``run_uuid``, used only when
    ``run_id`` is absent (as MLflow reads it)."""

    legacy: bool = False

    def parse(self, msg: Message) -> str:
        if self.legacy and not msg.has("run_id") and msg.has("run_uuid"):
            return msg.req_text("run_uuid")
        return msg.req_text("run_id")

    def target(self, value: str) -> Target:
        return Target(runs=[value])


@dataclass(frozen=True, slots=True)
class Runs(Resource[list[str]]):
    field: str = "run_ids"

    def parse(self, msg: Message) -> list[str]:
        return msg.texts(self.field)

    def target(self, value: list[str]) -> Target:
        return Target(runs=value)


class _Where(enum.Enum):
    URL = "url"  # the route's path parameter
    MESSAGE = "message"  # the message: the query string for GET, else the JSON body


@dataclass(frozen=True, slots=True)
class Model(Resource[str]):
    """A logged model. Routes name it in the URL; MLflow's finalize message carries it in the
    body too and acts on that one (``where=MESSAGE``), its log-params message requires it in
    the body but acts on the URL's (``body_too``). Whichever is acted on is the one checked."""

    where: _Where = _Where.URL
    body_too: bool = False

    def parse(self, msg: Message) -> str:
        if self.where is _Where.MESSAGE:
            return msg.req_text("model_id")
        if self.body_too:
            msg.req_text("model_id")
        return msg.path("model_id")

    def target(self, value: str) -> Target:
        return Target(models=[value])


@dataclass(frozen=True, slots=True)
class ArtifactPath:
    """A proxied artifact path as the client sent it, and its experiment."""

    raw: str
    experiment_id: int | None


@dataclass(frozen=True, slots=True)
class Artifact(Resource[ArtifactPath]):
    """A path under the artifact proxy, read from the URL or from the ``path`` query argument
    (never both: the route says which). Its first segment is the experiment."""

    where: _Where = _Where.URL

    def parse(self, msg: Message) -> ArtifactPath:
        raw = msg.path("path") if self.where is _Where.URL else (msg.text("path") or "")
        return ArtifactPath(raw, artifact_paths.experiment_of(artifact_paths.clean(raw)))

    def target(self, value: ArtifactPath) -> Target | None:
        eid = value.experiment_id
        return None if eid is None else Target(experiments=[eid])


ARTIFACT_IN_URL = Artifact(_Where.URL)
ARTIFACT_IN_QUERY = Artifact(_Where.MESSAGE)


@dataclass(frozen=True, slots=True)
class MultipartFile(Resource[ArtifactPath]):
    """Where a multipart upload lands: the URL's directory joined with the base name of the
    local file the body's ``path`` names (what MLflow's client sends)."""

    def parse(self, msg: Message) -> ArtifactPath:
        target = artifact_service.multipart_target(msg.path("path"), msg.req_text("path"))
        return ArtifactPath(target, artifact_paths.experiment_of(target))

    def target(self, value: ArtifactPath) -> Target | None:
        return ARTIFACT_IN_URL.target(value)


MULTIPART_FILE = MultipartFile()


MODEL = Model()
MODEL_FINALIZED = Model(_Where.MESSAGE)  # finalize: the body's id
MODEL_PARAMS = Model(body_too=True)  # log-params: the URL's id, the body's required


class Grants(enum.Enum):
    """What becomes of a registered model's grants once its route succeeded."""

    STAY = "stay"
    FOLLOW = "follow"  # renamed: they move to the new name
    DROP = "drop"  # deleted: they go with it (a new model may get the name)


@dataclass(frozen=True, slots=True)
class RegisteredModel(Resource[str]):
    """A registered model (or prompt), by the message's ``name`` (query string for GET, else
    the JSON body); its versions, tags and aliases are decided on it. ``required=False``: a
    route whose handler MLflow runs without a required-field check (get-download-uri), so a
    missing name reaches the name rule. ``access=NEW_REGISTERED_MODEL``: create, which any
    user may call."""

    required: bool = True
    grants: Grants = Grants.STAY
    access: Access = Access.TARGET

    def parse(self, msg: Message) -> str:
        if self.required:
            return msg.req_text("name")
        return msg.text("name") or ""

    def target(self, value: str) -> Target:
        return Target(registered_models=[value])


@dataclass(frozen=True, slots=True)
class VersionSource:
    """A new model version: its model and where its files come from."""

    name: str
    source: str
    run_id: str  # "" when absent, as MLflow stores it
    model_id: str | None  # the logged model


@dataclass(frozen=True, slots=True)
class NewModelVersion(Resource[VersionSource]):
    """create-model-version: EDIT on the model, and, as MLflow asks, READ on what the version
    is made from (the run, the logged model, or the registered model a ``models:/`` source
    copies), so a version cannot carry another experiment's files into a model."""

    def parse(self, msg: Message) -> VersionSource:
        name = msg.req_text("name")
        return VersionSource(
            name, msg.req_text("source"), msg.text("run_id") or "", msg.text("model_id") or None
        )

    def target(self, value: VersionSource) -> Target:
        return Target(registered_models=[value.name])

    def reads(self, value: VersionSource) -> Target | None:
        copied = registry_service.referenced_model(value.source)
        if copied is not None:  # its own lineage was checked when it was made
            return Target(registered_models=[copied])
        runs = [value.run_id] if value.run_id else []
        models = [value.model_id] if value.model_id else []
        return Target(runs=runs, models=models) if runs or models else None


REGISTERED_MODEL = RegisteredModel()
NEW_MODEL_VERSION = NewModelVersion()
REGISTERED_MODEL_UNCHECKED = RegisteredModel(required=False)
NEW_REGISTERED_MODEL = RegisteredModel(access=Access.NEW_REGISTERED_MODEL)
RENAMED_REGISTERED_MODEL = RegisteredModel(grants=Grants.FOLLOW)
DELETED_REGISTERED_MODEL = RegisteredModel(grants=Grants.DROP)
READABLE_REGISTERED_MODELS = NoResource(Access.READABLE_REGISTERED_MODELS)  # the searches
