"""MLflow's tracking entities as plain, immutable values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, NamedTuple, TypeVar

import msgspec

T = TypeVar("T")

ACTIVE = "active"
DELETED = "deleted"
# The tag that mirrors a run's name (runs.name); setting it renames the run.
RUN_NAME_TAG = "mlflow.runName"

RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
# LoggedModel statuses by the number MLflow stores in logged_models.status.
LOGGED_MODEL_STATUSES = (
    "LOGGED_MODEL_STATUS_UNSPECIFIED",
    "LOGGED_MODEL_PENDING",
    "LOGGED_MODEL_READY",
    "LOGGED_MODEL_UPLOAD_FAILED",
)
LOGGED_MODEL_PENDING = 1
VIEW_TYPES = ("ACTIVE_ONLY", "DELETED_ONLY", "ALL")


# A 1000-run search page builds tens of thousands of tags, params and metrics, so they are
# cheap-to-build types rather than frozen dataclasses. Tag and Param are msgspec Structs: their
# JSON form is exactly MLflow's {"key", "value"}, so responses embed them without copying.
class Tag(msgspec.Struct, frozen=True, gc=False):
    key: str
    value: str


class Param(msgspec.Struct, frozen=True, gc=False):
    key: str
    value: str


class Metric(NamedTuple):
    key: str
    value: float
    timestamp: int
    step: int
    is_nan: bool = False
    run_id: str | None = None
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


@dataclass(frozen=True, slots=True)
class Experiment:
    experiment_id: int
    name: str
    artifact_location: str | None
    lifecycle_stage: str
    creation_time: int | None
    last_update_time: int | None
    tags: list[Tag] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    run_name: str | None
    experiment_id: int
    user_id: str | None
    status: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str | None
    lifecycle_stage: str


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None


@dataclass(frozen=True, slots=True)
class DatasetInput:
    dataset: Dataset
    tags: list[Tag] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ModelIO:
    model_id: str
    step: int | None = None


@dataclass(frozen=True, slots=True)
class Run:
    info: RunInfo
    metrics: list[Metric] = field(default_factory=list)
    params: list[Param] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)
    dataset_inputs: list[DatasetInput] = field(default_factory=list)
    model_inputs: list[ModelIO] = field(default_factory=list)
    model_outputs: list[ModelIO] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LoggedModel:
    """An MLflow 3 LoggedModel; ``status`` is the stored number (see LOGGED_MODEL_STATUSES)."""

    model_id: str
    experiment_id: int
    name: str
    artifact_location: str
    creation_timestamp: int
    last_updated_timestamp: int
    status: int
    lifecycle_stage: str
    model_type: str | None = None
    source_run_id: str | None = None
    status_message: str | None = None
    tags: list[Tag] = field(default_factory=list)
    params: list[Param] = field(default_factory=list)
    metrics: list[Metric] = field(default_factory=list)  # with run_id, model_id, dataset_*


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_page_token: str | None = None


# --- the model registry ----------------------------------------------------------------------

# A model version's stages, as MLflow stores them; a deleted version keeps its row (its number
# is never reused) in the internal stage, redacted.
STAGE_NONE = "None"
STAGE_STAGING = "Staging"
STAGE_PRODUCTION = "Production"
STAGE_ARCHIVED = "Archived"
STAGE_DELETED_INTERNAL = "Deleted_Internal"
MODEL_VERSION_STAGES = (STAGE_NONE, STAGE_STAGING, STAGE_PRODUCTION, STAGE_ARCHIVED)
ACTIVE_STAGES = (STAGE_STAGING, STAGE_PRODUCTION)  # those archive_existing_versions applies to
# MLflow's SQL store creates every version READY: it copies no files.
MODEL_VERSION_READY = "READY"
# The tag that makes a registered model (or its versions) a prompt.
PROMPT_TAG = "mlflow.prompt.is_prompt"
# The logged-model tag listing the registered versions made from it (JSON).
MODEL_VERSIONS_TAG = "mlflow.modelVersions"


class ModelAlias(NamedTuple):
    alias: str
    version: int


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One version of a registered model, its columns as MLflow's ``model_versions`` has them.

    ``aliases`` is filled only where MLflow's store fills it (get, create, update, transition,
    by-alias, latest-versions), not in a search or a registered model's latest versions.
    """

    name: str
    version: int
    creation_timestamp: int | None
    last_updated_timestamp: int | None
    description: str | None = None
    user_id: str | None = None
    current_stage: str | None = STAGE_NONE
    source: str | None = None
    run_id: str | None = None
    status: str | None = MODEL_VERSION_READY
    status_message: str | None = None
    run_link: str | None = None
    storage_location: str | None = None
    tags: list[Tag] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    name: str
    creation_timestamp: int | None
    last_updated_timestamp: int | None
    description: str | None = None
    latest_versions: list[ModelVersion] = field(default_factory=list)  # one per stage
    tags: list[Tag] = field(default_factory=list)
    aliases: list[ModelAlias] = field(default_factory=list)
