"""MLflow's SQL schema at alembic head ``dc11669786a5`` (mlflow 3.17.2) as SQLAlchemy Core tables.

runyard serves MLflow databases in place and MLflow must be able to open runyard's, so every
table, column type, default, constraint and index name here matches what ``mlflow db upgrade``
creates on SQLite and PostgreSQL. Python names equal table names. Constraints without a name
(a few FKs and one CHECK) are unnamed on purpose: MLflow left them unnamed, so SQLite keeps them
anonymous and PostgreSQL derives the same ``<table>_<column>_fkey``/``_check`` names MLflow got.

Tables come in this order: tracking core, logged models, model registry, traces, then the rest
alphabetically. Changing anything here requires a new migration in ``migrations/versions``.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# MLflow's floating columns are 8-byte doubles (DOUBLE PRECISION on PostgreSQL, FLOAT on SQLite).
_Double = sa.Float(precision=53)
# Surrogate ids of the trace rollup tables: BIGINT identity on PostgreSQL, but INTEGER on SQLite
# because only an ``INTEGER PRIMARY KEY`` column is a rowid alias that auto-assigns values.
_BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


experiments = sa.Table(
    "experiments",
    metadata,
    sa.Column("experiment_id", sa.Integer(), nullable=False, autoincrement=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("artifact_location", sa.String(256)),
    sa.Column("lifecycle_stage", sa.String(32)),
    sa.Column("creation_time", sa.BigInteger()),
    sa.Column("last_update_time", sa.BigInteger()),
    sa.Column("workspace", sa.String(63), nullable=False, server_default="default"),
    sa.PrimaryKeyConstraint("experiment_id", name="experiment_pk"),
    sa.UniqueConstraint("workspace", "name", name="uq_experiments_workspace_name"),
    sa.CheckConstraint(
        "lifecycle_stage IN ('active', 'deleted')", name="experiments_lifecycle_stage"
    ),
    sa.Index("idx_experiments_workspace", "workspace"),
    sa.Index("idx_experiments_workspace_creation_time", "workspace", "creation_time"),
)

experiment_tags = sa.Table(
    "experiment_tags",
    metadata,
    sa.Column("key", sa.String(250), nullable=False),
    sa.Column("value", sa.Text()),
    sa.Column("experiment_id", sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint("key", "experiment_id", name="experiment_tag_pk"),
    sa.ForeignKeyConstraint(["experiment_id"], ["experiments.experiment_id"]),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_uuid", sa.String(32), nullable=False),
    sa.Column("name", sa.String(250)),
    sa.Column("source_type", sa.String(20)),
    sa.Column("source_name", sa.String(500)),
    sa.Column("entry_point_name", sa.String(50)),
    sa.Column("user_id", sa.String(256)),
    sa.Column("status", sa.String(9)),
    sa.Column("start_time", sa.BigInteger()),
    sa.Column("end_time", sa.BigInteger()),
    sa.Column("source_version", sa.String(50)),
    sa.Column("lifecycle_stage", sa.String(20)),
    sa.Column("artifact_uri", sa.String(200)),
    sa.Column("experiment_id", sa.Integer()),
    sa.Column("deleted_time", sa.BigInteger()),
    sa.PrimaryKeyConstraint("run_uuid", name="run_pk"),
    sa.ForeignKeyConstraint(["experiment_id"], ["experiments.experiment_id"]),
    sa.CheckConstraint("lifecycle_stage IN ('active', 'deleted')", name="runs_lifecycle_stage"),
    sa.CheckConstraint(
        "source_type IN ('NOTEBOOK', 'JOB', 'LOCAL', 'UNKNOWN', 'PROJECT')", name="source_type"
    ),
    sa.CheckConstraint("status IN ('SCHEDULED', 'FAILED', 'FINISHED', 'RUNNING', 'KILLED')"),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("key", sa.String(250), nullable=False),
    sa.Column("value", sa.String(8000)),
    sa.Column("run_uuid", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("key", "run_uuid", name="tag_pk"),
    sa.ForeignKeyConstraint(["run_uuid"], ["runs.run_uuid"]),
    sa.Index("index_tags_run_uuid", "run_uuid"),
)

params = sa.Table(
    "params",
    metadata,
    sa.Column("key", sa.String(250), nullable=False),
    sa.Column("value", sa.String(8000), nullable=False),
    sa.Column("run_uuid", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("key", "run_uuid", name="param_pk"),
    sa.ForeignKeyConstraint(["run_uuid"], ["runs.run_uuid"]),
    sa.Index("index_params_run_uuid", "run_uuid"),
)

metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column("key", sa.String(250), nullable=False),
    sa.Column("value", _Double, nullable=False),
    sa.Column("timestamp", sa.BigInteger(), nullable=False),
    sa.Column("run_uuid", sa.String(32), nullable=False),
    sa.Column("step", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("is_nan", sa.Boolean(create_constraint=True), nullable=False, server_default="0"),
    sa.PrimaryKeyConstraint(
        "key", "timestamp", "step", "run_uuid", "value", "is_nan", name="metric_pk"
    ),
    sa.ForeignKeyConstraint(["run_uuid"], ["runs.run_uuid"]),
    sa.Index("index_metrics_run_uuid", "run_uuid"),
    sa.Index("index_metrics_run_uuid_key_step", "run_uuid", "key", "step"),
)

latest_metrics = sa.Table(
    "latest_metrics",
    metadata,
    sa.Column("key", sa.String(250), nullable=False),
    sa.Column("value", _Double, nullable=False),
    sa.Column("timestamp", sa.BigInteger()),
    sa.Column("step", sa.BigInteger(), nullable=False),
    sa.Column("is_nan", sa.Boolean(create_constraint=True), nullable=False),
    sa.Column("run_uuid", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("key", "run_uuid", name="latest_metric_pk"),
    sa.ForeignKeyConstraint(["run_uuid"], ["runs.run_uuid"]),
    sa.Index("index_latest_metrics_run_uuid", "run_uuid"),
)

datasets = sa.Table(
    "datasets",
    metadata,
    sa.Column("dataset_uuid", sa.String(36), nullable=False),
    sa.Column("experiment_id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(500), nullable=False),
    sa.Column("digest", sa.String(36), nullable=False),
    sa.Column("dataset_source_type", sa.String(36), nullable=False),
    sa.Column("dataset_source", sa.Text(), nullable=False),
    sa.Column("dataset_schema", sa.Text()),
    sa.Column("dataset_profile", sa.Text()),
    sa.PrimaryKeyConstraint("experiment_id", "name", "digest", name="dataset_pk"),
    sa.ForeignKeyConstraint(
        ["experiment_id"],
        ["experiments.experiment_id"],
        name="fk_datasets_experiment_id_experiments",
        ondelete="CASCADE",
    ),
    sa.Index("index_datasets_dataset_uuid", "dataset_uuid"),
    sa.Index(
        "index_datasets_experiment_id_dataset_source_type", "experiment_id", "dataset_source_type"
    ),
)

inputs = sa.Table(
    "inputs",
    metadata,
    sa.Column("input_uuid", sa.String(36), nullable=False),
    sa.Column("source_type", sa.String(36), nullable=False),
    sa.Column("source_id", sa.String(36), nullable=False),
    sa.Column("destination_type", sa.String(36), nullable=False),
    sa.Column("destination_id", sa.String(36), nullable=False),
    sa.Column("step", sa.BigInteger(), nullable=False, server_default="0"),
    sa.PrimaryKeyConstraint(
        "source_type", "source_id", "destination_type", "destination_id", name="inputs_pk"
    ),
    sa.Index(
        "index_inputs_destination_type_destination_id_source_type",
        "destination_type",
        "destination_id",
        "source_type",
    ),
    sa.Index("index_inputs_input_uuid", "input_uuid"),
)

input_tags = sa.Table(
    "input_tags",
    metadata,
    sa.Column("input_uuid", sa.String(36), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("value", sa.String(500), nullable=False),
    sa.PrimaryKeyConstraint("input_uuid", "name", name="input_tags_pk"),
)

logged_models = sa.Table(
    "logged_models",
    metadata,
    sa.Column("model_id", sa.String(36), nullable=False),
    sa.Column("experiment_id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(500), nullable=False),
    sa.Column("artifact_location", sa.String(1000), nullable=False),
    sa.Column("creation_timestamp_ms", sa.BigInteger(), nullable=False),
    sa.Column("last_updated_timestamp_ms", sa.BigInteger(), nullable=False),
    sa.Column("status", sa.Integer(), nullable=False),
    sa.Column("lifecycle_stage", sa.String(32)),
    sa.Column("model_type", sa.String(500)),
    sa.Column("source_run_id", sa.String(32)),
    sa.Column("status_message", sa.String(1000)),
    sa.PrimaryKeyConstraint("model_id", name="logged_models_pk"),
    sa.ForeignKeyConstraint(
        ["experiment_id"],
        ["experiments.experiment_id"],
        name="fk_logged_models_experiment_id",
        ondelete="CASCADE",
    ),
    sa.CheckConstraint(
        "lifecycle_stage IN ('active', 'deleted')", name="logged_models_lifecycle_stage_check"
    ),
)

logged_model_params = sa.Table(
    "logged_model_params",
    metadata,
    sa.Column("model_id", sa.String(36), nullable=False),
    sa.Column("experiment_id", sa.Integer(), nullable=False),
    sa.Column("param_key", sa.String(255), nullable=False),
    sa.Column("param_value", sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint("model_id", "param_key", name="logged_model_params_pk"),
    sa.ForeignKeyConstraint(
        ["experiment_id"],
        ["experiments.experiment_id"],
        name="fk_logged_model_params_experiment_id",
    ),
    sa.ForeignKeyConstraint(
        ["model_id"],
        ["logged_models.model_id"],
        name="fk_logged_model_params_model_id",
        ondelete="CASCADE",
    ),
)

logged_model_tags = sa.Table(
    "logged_model_tags",
    metadata,
    sa.Column("model_id", sa.String(36), nullable=False),
    sa.Column("experiment_id", sa.Integer(), nullable=False),
    sa.Column("tag_key", sa.String(255), nullable=False),
    sa.Column("tag_value", sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint("model_id", "tag_key", name="logged_model_tags_pk"),
    sa.ForeignKeyConstraint(
        ["experiment_id"], ["experiments.experiment_id"], name="fk_logged_model_tags_experiment_id"
    ),
    sa.ForeignKeyConstraint(
        ["model_id"],
        ["logged_models.model_id"],
        name="fk_logged_model_tags_model_id",
        ondelete="CASCADE",
    ),
)

logged_model_metrics = sa.Table(
    "logged_model_metrics",
    metadata,
    sa.Column("model_id", sa.String(36), nullable=False),
    sa.Column("metric_name", sa.String(500), nullable=False),
    sa.Column("metric_timestamp_ms", sa.BigInteger(), nullable=False),
    sa.Column("metric_step", sa.BigInteger(), nullable=False),
    sa.Column("metric_value", _Double),
    sa.Column("experiment_id", sa.Integer(), nullable=False),
    sa.Column("run_id", sa.String(32), nullable=False),
    sa.Column("dataset_uuid", sa.String(36)),
    sa.Column("dataset_name", sa.String(500)),
    sa.Column("dataset_digest", sa.String(36)),
    sa.PrimaryKeyConstraint(
        "model_id",
        "metric_name",
        "metric_timestamp_ms",
        "metric_step",
        "run_id",
        name="logged_model_metrics_pk",
    ),
    sa.ForeignKeyConstraint(
        ["experiment_id"],
        ["experiments.experiment_id"],
        name="fk_logged_model_metrics_experiment_id",
    ),
    sa.ForeignKeyConstraint(
        ["model_id"],
        ["logged_models.model_id"],
        name="fk_logged_model_metrics_model_id",
        ondelete="CASCADE",
    ),
    sa.ForeignKeyConstraint(
        ["run_id"], ["runs.run_uuid"], name="fk_logged_model_metrics_run_id", ondelete="CASCADE"
    ),
    sa.Index("index_logged_model_metrics_model_id", "model_id"),
)

registered_models = sa.Table(
    "registered_models",
    metadata,
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("creation_time", sa.BigInteger()),
    sa.Column("last_updated_time", sa.BigInteger()),
    sa.Column("description", sa.String(5000)),
    sa.Column("workspace", sa.String(63), nullable=False, server_default="default"),
    sa.PrimaryKeyConstraint("workspace", "name", name="registered_model_pk"),
    sa.Index("idx_registered_models_workspace", "workspace"),
)

registered_model_tags = sa.Table(
    "registered_model_tags",
    metadata,
    sa.Column("key", sa.String(250), nullable=False),
    sa.Column("value", sa.String(5000)),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("workspace", sa.String(63), nullable=False, server_default="default"),
    sa.PrimaryKeyConstraint("workspace", "key", "name", name="registered_model_tag_pk"),
    sa.ForeignKeyConstraint(
        ["workspace", "name"],
        ["registered_models.workspace", "registered_models.name"],
        name="fk_registered_model_tags_registered_models",
        onupdate="CASCADE",
    ),
    sa.Index("idx_registered_model_tags_workspace_name", "workspace", "name"),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("creation_time", sa.BigInteger()),
    sa.Column("last_updated_time", sa.BigInteger()),
    sa.Column("description", sa.String(5000)),
    sa.Column("user_id", sa.String(256)),
    sa.Column("current_stage", sa.String(20)),
    sa.Column("source", sa.String(500)),
    sa.Column("run_id", sa.String(32)),
    sa.Column("status", sa.String(20)),
    sa.Column("status_message", sa.String(500)),
    sa.Column("run_link", sa.String(500)),
    sa.Column("storage_location", sa.String(500)),
    sa.Column("workspace", sa.String(63), nullable=False, server_default="default"),
    sa.PrimaryKeyConstraint("workspace", "name", "version", name="model_version_pk"),
    sa.ForeignKeyConstraint(
        ["workspace", "name"],
        ["registered_models.workspace", "registered_models.name"],
        name="fk_model_versions_registered_models",
        onupdate="CASCADE",
    ),
)

model_version_tags = sa.Table(
    "model_version_tags",
    metadata,
    sa.Column("key", sa.String(250), nullable=False),
    sa.Column("value", sa.Text()),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("workspace", sa.String(63), nullable=False, server_default="default"),
    sa.PrimaryKeyConstraint("workspace", "key", "name", "version", name="model_version_tag_pk"),
    sa.ForeignKeyConstraint(
        ["workspace", "name", "version"],
        ["model_versions.workspace", "model_versions.name", "model_versions.version"],
        name="fk_model_version_tags_model_versions",
        onupdate="CASCADE",
    ),
    sa.Index("idx_model_version_tags_workspace_name_version", "workspace", "name", "version"),
)

registered_model_aliases = sa.Table(
    "registered_model_aliases",
    metadata,
    sa.Column("alias", sa.String(256), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("workspace", sa.String(63), nullable=False, server_default="default"),
    sa.PrimaryKeyConstraint("workspace", "name", "alias", name="registered_model_alias_pk"),
    sa.ForeignKeyConstraint(
        ["workspace", "name"],
        ["registered_models.workspace", "registered_models.name"],
        name="fk_registered_model_aliases_registered_models",
        ondelete="CASCADE",
        onupdate="CASCADE",
    ),
)

trace_info = sa.Table(
    "trace_info",
    metadata,
    sa.Column("request_id", sa.String(50), nullable=False),
    sa.Column("experiment_id", sa.Integer(), nullable=False),
    sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
    sa.Column("execution_time_ms", sa.BigInteger()),
    sa.Column("status", sa.String(50), nullable=False),
    sa.Column("client_request_id", sa.String(50)),
    sa.Column("request_preview", sa.String(1000)),
    sa.Column("response_preview", sa.String(1000)),
    sa.Column("db_payload_generation", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("trace_name", sa.String(4096)),
    sa.Column("session_id", sa.String(250)),
    sa.Column("input_tokens", sa.BigInteger()),
    sa.Column("output_tokens", sa.BigInteger()),
    sa.Column("total_tokens", sa.BigInteger()),
    sa.Column("cache_read_input_tokens", sa.BigInteger()),
    sa.Column("cache_creation_input_tokens", sa.BigInteger()),
    sa.Column("cache_creation_input_tokens_above_1hr", sa.BigInteger()),
    sa.Column("input_cost", _Double),
    sa.Column("output_cost", _Double),
    sa.Column("total_cost", _Double),
    sa.PrimaryKeyConstraint("request_id", name="trace_info_pk"),
    sa.ForeignKeyConstraint(
        ["experiment_id"],
        ["experiments.experiment_id"],
        name="fk_trace_info_experiment_id",
        ondelete="CASCADE",
    ),
    sa.Index("index_trace_info_experiment_id_session_id", "experiment_id", "session_id"),
    sa.Index("index_trace_info_experiment_id_timestamp_ms", "experiment_id", "timestamp_ms"),
    sa.Index("index_trace_info_timestamp_ms_request_id", "timestamp_ms", "request_id"),
)

trace_tags = sa.Table(
    "trace_tags",
    metadata,
    sa.Column("key", sa.String(250), nullable=False),
    sa.Column("value", sa.String(8000)),
    sa.Column("request_id", sa.String(50), nullable=False),
    sa.PrimaryKeyConstraint("key", "request_id", name="trace_tag_pk"),
    sa.ForeignKeyConstraint(
        ["request_id"],
        ["trace_info.request_id"],
        name="fk_trace_tags_request_id",
        ondelete="CASCADE",
    ),
    sa.Index("index_trace_tags_request_id", "request_id"),
)

trace_request_metadata = sa.Table(
    "trace_request_metadata",
    metadata,
    sa.Column("key", sa.String(250), nullable=False),
    sa.Column("value", sa.String(8000)),
    sa.Column("request_id", sa.String(50), nullable=False),
    sa.PrimaryKeyConstraint("key", "request_id", name="trace_request_metadata_pk"),
    sa.ForeignKeyConstraint(
        ["request_id"],
        ["trace_info.request_id"],
        name="fk_trace_request_metadata_request_id",
        ondelete="CASCADE",
    ),
    sa.Index("index_trace_request_metadata_request_id", "request_id"),
)

assessments = sa.Table(
    "assessments",
    metadata,
    sa.Column("assessment_id", sa.String(50), nullable=False),
    sa.Column("trace_id", sa.String(50), nullable=False),
    sa.Column("name", sa.String(250), nullable=False),
    sa.Column("assessment_type", sa.String(20), nullable=False),
    sa.Column("value", sa.Text(), nullable=False),
    sa.Column("error", sa.Text()),
    sa.Column("created_timestamp", sa.BigInteger(), nullable=False),
    sa.Column("last_updated_timestamp", sa.BigInteger(), nullable=False),
    sa.Column("source_type", sa.String(50), nullable=False),
    sa.Column("source_id", sa.String(250)),
    sa.Column("run_id", sa.String(32)),
    sa.Column("span_id", sa.String(50)),
    sa.Column("rationale", sa.Text()),
    sa.Column("overrides", sa.String(50)),
    sa.Column("valid", sa.Boolean(), nullable=False),
    sa.Column("assessment_metadata", sa.Text()),
    sa.Column("experiment_id", sa.Integer()),
    sa.Column("trace_timestamp_ms", sa.BigInteger()),
    sa.Column("aggregate_value", _Double),
    sa.Column("is_numeric_value", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.PrimaryKeyConstraint("assessment_id", name="assessments_pk"),
    sa.ForeignKeyConstraint(
        ["trace_id"], ["trace_info.request_id"], name="fk_assessments_trace_id", ondelete="CASCADE"
    ),
    sa.Index("idx_assessments_exp_name_valid", "experiment_id", "name", "valid"),
    sa.Index("idx_assessments_exp_trace_ts", "experiment_id", "trace_timestamp_ms"),
    sa.Index("idx_assessments_exp_trace_ts_name", "experiment_id", "trace_timestamp_ms", "name"),
    sa.Index("index_assessments_assessment_type", "assessment_type"),
    sa.Index("index_assessments_last_updated_timestamp", "last_updated_timestamp"),
    sa.Index("index_assessments_run_id_created_timestamp", "run_id", "created_timestamp"),
    sa.Index("index_assessments_trace_id_created_timestamp", "trace_id", "created_timestamp"),
)

spans = sa.Table(
    "spans",
    metadata,
    sa.Column("trace_id", sa.String(50), nullable=False),
    sa.Column("experiment_id", sa.Integer(), nullable=False),
    sa.Column("span_id", sa.String(50), nullable=False),
    sa.Column("parent_span_id", sa.String(50)),
    sa.Column("name", sa.Text()),
    sa.Column("type", sa.String(500)),
    sa.Column("status", sa.String(50), nullable=False),
    sa.Column("start_time_unix_nano", sa.BigInteger(), nullable=False),
    sa.Column("end_time_unix_nano", sa.BigInteger()),
    sa.Column(
        "duration_ns",
        sa.BigInteger(),
        sa.Computed("end_time_unix_nano - start_time_unix_nano", persisted=True),
    ),
    sa.Column("content", sa.Text(), nullable=False),
    sa.Column("input_cost", _Double),
    sa.Column("output_cost", _Double),
    sa.Column("total_cost", _Double),
    sa.Column("model_name", sa.String(500)),
    sa.Column("model_provider", sa.String(500)),
    sa.PrimaryKeyConstraint("trace_id", "span_id", name="spans_pk"),
    sa.ForeignKeyConstraint(
        ["experiment_id"], ["experiments.experiment_id"], name="fk_spans_experiment_id"
    ),
    sa.ForeignKeyConstraint(
        ["trace_id"], ["trace_info.request_id"], name="fk_spans_trace_id", ondelete="CASCADE"
    ),
    sa.Index(
        "idx_spans_cost_exp_time_cover",
        "experiment_id",
        "start_time_unix_nano",
        postgresql_where=sa.text(
            "input_cost IS NOT NULL OR output_cost IS NOT NULL OR total_cost IS NOT NULL"
        ),
        postgresql_include=[
            "input_cost",
            "output_cost",
            "total_cost",
            "model_name",
            "model_provider",
        ],
    ),
    sa.Index(
        "idx_spans_cost_trace_time_cover",
        "trace_id",
        "start_time_unix_nano",
        postgresql_where=sa.text(
            "input_cost IS NOT NULL OR output_cost IS NOT NULL OR total_cost IS NOT NULL"
        ),
        postgresql_include=[
            "input_cost",
            "output_cost",
            "total_cost",
            "model_name",
            "model_provider",
        ],
    ),
    sa.Index("index_spans_experiment_id_duration", "experiment_id", "duration_ns"),
    sa.Index("index_spans_experiment_id_start_time", "experiment_id", "start_time_unix_nano"),
    sa.Index("index_spans_experiment_id_status_type", "experiment_id", "status", "type"),
    sa.Index("index_spans_experiment_id_type_status", "experiment_id", "type", "status"),
)

span_metrics = sa.Table(
    "span_metrics",
    metadata,
    sa.Column("trace_id", sa.String(50), nullable=False),
    sa.Column("span_id", sa.String(50), nullable=False),
    sa.Column("key", sa.String(250), nullable=False),
    sa.Column("value", _Double),
    sa.PrimaryKeyConstraint("trace_id", "span_id", "key", name="span_metrics_pk"),
    sa.ForeignKeyConstraint(
        ["trace_id", "span_id"],
        ["spans.trace_id", "spans.span_id"],
        name="fk_span_metrics_span",
        ondelete="CASCADE",
    ),
    sa.Index("index_span_metrics_trace_id_span_id", "trace_id", "span_id"),
)

trace_metrics = sa.Table(
    "trace_metrics",
    metadata,
    sa.Column("request_id", sa.String(50), nullable=False),
    sa.Column("key", sa.String(250), nullable=False),
    sa.Column("value", _Double),
    sa.PrimaryKeyConstraint("request_id", "key", name="trace_metrics_pk"),
    sa.ForeignKeyConstraint(
        ["request_id"],
        ["trace_info.request_id"],
        name="fk_trace_metrics_request_id",
        ondelete="CASCADE",
    ),
    sa.Index("index_trace_metrics_request_id", "request_id"),
)

budget_policies = sa.Table(
    "budget_policies",
    metadata,
    sa.Column("budget_policy_id", sa.String(36), nullable=False),
    sa.Column("budget_unit", sa.String(32), nullable=False),
    sa.Column("budget_amount", _Double, nullable=False),
    sa.Column("duration_unit", sa.String(32), nullable=False),
    sa.Column("duration_value", sa.Integer(), nullable=False),
    sa.Column("target_scope", sa.String(32), nullable=False),
    sa.Column("budget_action", sa.String(32), nullable=False),
    sa.Column("created_by", sa.String(255)),
    sa.Column("created_at", sa.BigInteger(), nullable=False),
    sa.Column("last_updated_by", sa.String(255)),
    sa.Column("last_updated_at", sa.BigInteger(), nullable=False),
    sa.Column("workspace", sa.String(63), nullable=False, server_default="default"),
    sa.Column("target_value", sa.String(255)),
    sa.PrimaryKeyConstraint("budget_policy_id", name="budget_policies_pk"),
    sa.Index("idx_budget_policies_target_value", "target_value"),
    sa.Index("idx_budget_policies_workspace", "workspace"),
)

endpoint_bindings = sa.Table(
    "endpoint_bindings",
    metadata,
    sa.Column("endpoint_id", sa.String(36), nullable=False),
    sa.Column("resource_type", sa.String(50), nullable=False),
    sa.Column("resource_id", sa.String(255), nullable=False),
    sa.Column("created_at", sa.BigInteger(), nullable=False),
    sa.Column("created_by", sa.String(255)),
    sa.Column("last_updated_at", sa.BigInteger(), nullable=False),
    sa.Column("last_updated_by", sa.String(255)),
    sa.Column("display_name", sa.String(255)),
    sa.PrimaryKeyConstraint(
        "endpoint_id", "resource_type", "resource_id", name="endpoint_bindings_pk"
    ),
    sa.ForeignKeyConstraint(
        ["endpoint_id"],
        ["endpoints.endpoint_id"],
        name="fk_endpoint_bindings_endpoint_id",
        ondelete="CASCADE",
    ),
)

endpoint_model_mappings = sa.Table(
    "endpoint_model_mappings",
    metadata,
    sa.Column("mapping_id", sa.String(36), nullable=False),
    sa.Column("endpoint_id", sa.String(36), nullable=False),
    sa.Column("model_definition_id", sa.String(36), nullable=False),
    sa.Column("weight", _Double, nullable=False),
    sa.Column("created_by", sa.String(255)),
    sa.Column("created_at", sa.BigInteger(), nullable=False),
    sa.Column("linkage_type", sa.String(64), nullable=False, server_default="PRIMARY"),
    sa.Column("fallback_order", sa.Integer()),
    sa.PrimaryKeyConstraint("mapping_id", name="endpoint_model_mappings_pk"),
    sa.ForeignKeyConstraint(
        ["endpoint_id"],
        ["endpoints.endpoint_id"],
        name="fk_endpoint_model_mappings_endpoint_id",
        ondelete="CASCADE",
    ),
    sa.ForeignKeyConstraint(
        ["model_definition_id"],
        ["model_definitions.model_definition_id"],
        name="fk_endpoint_model_mappings_model_definition_id",
    ),
    sa.Index("index_endpoint_model_mappings_endpoint_id", "endpoint_id"),
    sa.Index("index_endpoint_model_mappings_model_definition_id", "model_definition_id"),
    sa.Index(
        "unique_endpoint_model_linkage_mapping",
        "endpoint_id",
        "model_definition_id",
        "linkage_type",
        unique=True,
    ),
)

endpoint_tags = sa.Table(
    "endpoint_tags",
    metadata,
    sa.Column("key", sa.String(250), nullable=False),
    sa.Column("value", sa.String(5000)),
    sa.Column("endpoint_id", sa.String(36), nullable=False),
    sa.PrimaryKeyConstraint("key", "endpoint_id", name="endpoint_tag_pk"),
    sa.ForeignKeyConstraint(
        ["endpoint_id"],
        ["endpoints.endpoint_id"],
        name="fk_endpoint_tags_endpoint_id",
        ondelete="CASCADE",
    ),
    sa.Index("index_endpoint_tags_endpoint_id", "endpoint_id"),
)

endpoints = sa.Table(
    "endpoints",
    metadata,
    sa.Column("endpoint_id", sa.String(36), nullable=False),
    sa.Column("name", sa.String(255)),
    sa.Column("created_by", sa.String(255)),
    sa.Column("created_at", sa.BigInteger(), nullable=False),
    sa.Column("last_updated_by", sa.String(255)),
    sa.Column("last_updated_at", sa.BigInteger(), nullable=False),
    sa.Column("routing_strategy", sa.String(64)),
    sa.Column("fallback_config_json", sa.Text()),
    sa.Column("experiment_id", sa.Integer()),
    sa.Column("usage_tracking", sa.Boolean(), nullable=False, server_default="0"),
    sa.Column("workspace", sa.String(63), nullable=False, server_default="default"),
    sa.PrimaryKeyConstraint("endpoint_id", name="endpoints_pk"),
    sa.ForeignKeyConstraint(
        ["experiment_id"],
        ["experiments.experiment_id"],
        name="fk_endpoints_experiment_id",
        ondelete="SET NULL",
    ),
    sa.UniqueConstraint("workspace", "name", name="uq_endpoints_workspace_name"),
    sa.Index("idx_endpoints_workspace", "workspace"),
)

entity_associations = sa.Table(
    "entity_associations",
    metadata,
    sa.Column("association_id", sa.String(36), nullable=False),
    sa.Column("source_type", sa.String(36), nullable=False),
    sa.Column("source_id", sa.String(36), nullable=False),
    sa.Column("destination_type", sa.String(36), nullable=False),
    sa.Column("destination_id", sa.String(36), nullable=False),
    sa.Column("created_time", sa.BigInteger()),
    sa.PrimaryKeyConstraint(
        "source_type",
        "source_id",
        "destination_type",
        "destination_id",
        name="entity_associations_pk",
    ),
    sa.Index("index_entity_associations_association_id", "association_id"),
    sa.Index(
        "index_entity_associations_reverse_lookup",
        "destination_type",
        "destination_id",
        "source_type",
        "source_id",
    ),
)

evaluation_dataset_records = sa.Table(
    "evaluation_dataset_records",
    metadata,
    sa.Column("dataset_record_id", sa.String(36), nullable=False),
    sa.Column("dataset_id", sa.String(36), nullable=False),
    sa.Column("inputs", sa.JSON(), nullable=False),
    sa.Column("expectations", sa.JSON()),
    sa.Column("tags", sa.JSON()),
    sa.Column("source", sa.JSON()),
    sa.Column("source_id", sa.String(36)),
    sa.Column("source_type", sa.String(255)),
    sa.Column("created_time", sa.BigInteger()),
    sa.Column("last_update_time", sa.BigInteger()),
    sa.Column("created_by", sa.String(255)),
    sa.Column("last_updated_by", sa.String(255)),
    sa.Column("input_hash", sa.String(64), nullable=False),
    sa.Column("outputs", sa.JSON()),
    sa.PrimaryKeyConstraint("dataset_record_id", name="evaluation_dataset_records_pk"),
    sa.ForeignKeyConstraint(
        ["dataset_id"],
        ["evaluation_datasets.dataset_id"],
        name="fk_evaluation_dataset_records_dataset_id",
        ondelete="CASCADE",
    ),
    sa.UniqueConstraint("dataset_id", "input_hash", name="unique_dataset_input"),
    sa.Index("index_evaluation_dataset_records_dataset_id", "dataset_id"),
)

evaluation_dataset_tags = sa.Table(
    "evaluation_dataset_tags",
    metadata,
    sa.Column("dataset_id", sa.String(36), nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("value", sa.String(5000)),
    sa.PrimaryKeyConstraint("dataset_id", "key", name="evaluation_dataset_tags_pk"),
    sa.ForeignKeyConstraint(
        ["dataset_id"],
        ["evaluation_datasets.dataset_id"],
        name="fk_evaluation_dataset_tags_dataset_id",
        ondelete="CASCADE",
    ),
    sa.Index("index_evaluation_dataset_tags_dataset_id", "dataset_id"),
)

evaluation_datasets = sa.Table(
    "evaluation_datasets",
    metadata,
    sa.Column("dataset_id", sa.String(36), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("schema", sa.Text()),
    sa.Column("profile", sa.Text()),
    sa.Column("digest", sa.String(64)),
    sa.Column("created_time", sa.BigInteger()),
    sa.Column("last_update_time", sa.BigInteger()),
    sa.Column("created_by", sa.String(255)),
    sa.Column("last_updated_by", sa.String(255)),
    sa.Column("workspace", sa.String(63), nullable=False, server_default="default"),
    sa.PrimaryKeyConstraint("dataset_id", name="evaluation_datasets_pk"),
    sa.Index("idx_evaluation_datasets_workspace", "workspace"),
    sa.Index("index_evaluation_datasets_created_time", "created_time"),
    sa.Index("index_evaluation_datasets_name", "name"),
)

guardrail_configs = sa.Table(
    "guardrail_configs",
    metadata,
    sa.Column("endpoint_id", sa.String(36), nullable=False),
    sa.Column("guardrail_id", sa.String(36), nullable=False),
    sa.Column("execution_order", sa.Integer()),
    sa.Column("created_by", sa.String(255)),
    sa.Column("created_at", sa.BigInteger(), nullable=False),
    sa.Column("workspace", sa.String(63), nullable=False, server_default="default"),
    sa.PrimaryKeyConstraint("endpoint_id", "guardrail_id", name="guardrail_configs_pk"),
    sa.ForeignKeyConstraint(
        ["endpoint_id"],
        ["endpoints.endpoint_id"],
        name="fk_guardrail_configs_endpoint_id",
        ondelete="CASCADE",
    ),
    sa.ForeignKeyConstraint(
        ["guardrail_id"],
        ["guardrails.guardrail_id"],
        name="fk_guardrail_configs_guardrail_id",
        ondelete="CASCADE",
    ),
    sa.Index("idx_guardrail_configs_endpoint_id", "endpoint_id"),
    sa.Index("idx_guardrail_configs_guardrail_id", "guardrail_id"),
)

guardrails = sa.Table(
    "guardrails",
    metadata,
    sa.Column("guardrail_id", sa.String(36), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("scorer_id", sa.String(36), nullable=False),
    sa.Column("scorer_version", sa.Integer(), nullable=False),
    sa.Column("stage", sa.String(32), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("action_endpoint_id", sa.String(36)),
    sa.Column("created_by", sa.String(255)),
    sa.Column("created_at", sa.BigInteger(), nullable=False),
    sa.Column("last_updated_by", sa.String(255)),
    sa.Column("last_updated_at", sa.BigInteger(), nullable=False),
    sa.Column("workspace", sa.String(63), nullable=False, server_default="default"),
    sa.PrimaryKeyConstraint("guardrail_id", name="guardrails_pk"),
    sa.ForeignKeyConstraint(
        ["scorer_id", "scorer_version"],
        ["scorer_versions.scorer_id", "scorer_versions.scorer_version"],
        name="fk_guardrails_scorer_version",
    ),
    sa.ForeignKeyConstraint(
        ["action_endpoint_id"],
        ["endpoints.endpoint_id"],
        name="fk_guardrails_action_endpoint_id",
        ondelete="SET NULL",
    ),
    sa.Index("idx_guardrails_scorer", "scorer_id", "scorer_version"),
    sa.Index("idx_guardrails_workspace", "workspace"),
)

issues = sa.Table(
    "issues",
    metadata,
    sa.Column("issue_id", sa.String(36), nullable=False),
    sa.Column("experiment_id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(250), nullable=False),
    sa.Column("description", sa.Text(), nullable=False),
    sa.Column("status", sa.String(50), nullable=False),
    sa.Column("severity", sa.String(50)),
    sa.Column("root_causes", sa.Text()),
    sa.Column("source_run_id", sa.String(32)),
    sa.Column("categories", sa.Text()),
    sa.Column("created_timestamp", sa.BigInteger(), nullable=False),
    sa.Column("last_updated_timestamp", sa.BigInteger(), nullable=False),
    sa.Column("created_by", sa.String(255)),
    sa.PrimaryKeyConstraint("issue_id", name="issues_pk"),
    sa.ForeignKeyConstraint(
        ["experiment_id"],
        ["experiments.experiment_id"],
        name="fk_issues_experiment_id",
        ondelete="CASCADE",
    ),
    sa.ForeignKeyConstraint(
        ["source_run_id"], ["runs.run_uuid"], name="fk_issues_source_run_id", ondelete="SET NULL"
    ),
    sa.Index("index_issues_experiment_id", "experiment_id"),
    sa.Index("index_issues_source_run_id", "source_run_id"),
    sa.Index("index_issues_status", "status"),
)

job_locks = sa.Table(
    "job_locks",
    metadata,
    sa.Column("lock_key", sa.String(255), nullable=False),
    sa.Column("job_id", sa.String(36), nullable=False),
    sa.Column("acquired_at", sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint("lock_key", name="job_locks_pk"),
    sa.ForeignKeyConstraint(
        ["job_id"], ["jobs.id"], name="fk_job_locks_job_id", ondelete="CASCADE"
    ),
    sa.Index("index_job_locks_job_id", "job_id"),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(36), nullable=False),
    sa.Column("creation_time", sa.BigInteger(), nullable=False),
    sa.Column("job_name", sa.String(500), nullable=False),
    sa.Column("params", sa.Text(), nullable=False),
    sa.Column("timeout", _Double),
    sa.Column("status", sa.Integer(), nullable=False),
    sa.Column("result", sa.Text()),
    sa.Column("retry_count", sa.Integer(), nullable=False),
    sa.Column("last_update_time", sa.BigInteger(), nullable=False),
    sa.Column("workspace", sa.String(63), nullable=False, server_default="default"),
    sa.Column("status_details", sa.JSON()),
    sa.Column("creator", sa.String(255)),
    sa.Column("executor_backend", sa.String(255)),
    sa.Column("lease_expires_at", sa.BigInteger()),
    sa.Column("status_message", sa.Text()),
    sa.Column("progress", sa.JSON()),
    sa.Column("progress_updated_at", sa.BigInteger()),
    sa.Column("token_hash", sa.String(64)),
    sa.Column("scoped_permissions", sa.JSON()),
    sa.Column("next_attempt_at", sa.BigInteger()),
    sa.PrimaryKeyConstraint("id", name="jobs_pk"),
    sa.Index(
        "index_jobs_name_status_creation_time", "job_name", "workspace", "status", "creation_time"
    ),
    sa.Index("index_jobs_status_lease_expires_at", "status", "lease_expires_at"),
)

label_schemas = sa.Table(
    "label_schemas",
    metadata,
    sa.Column("schema_id", sa.String(36), nullable=False),
    sa.Column("experiment_id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(250), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("instruction", sa.Text()),
    sa.Column("enable_comment", sa.Boolean(), nullable=False, server_default="0"),
    sa.Column("input_type", sa.String(32), nullable=False),
    sa.Column("input_config", sa.Text(), nullable=False),
    sa.Column("created_by", sa.String(255)),
    sa.Column("created_time", sa.BigInteger(), nullable=False),
    sa.Column("last_update_time", sa.BigInteger(), nullable=False),
    sa.Column("is_default", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.PrimaryKeyConstraint("schema_id", name="label_schemas_pk"),
    sa.ForeignKeyConstraint(
        ["experiment_id"],
        ["experiments.experiment_id"],
        name="fk_label_schemas_experiment_id",
        ondelete="CASCADE",
    ),
    sa.UniqueConstraint("experiment_id", "name", name="uq_label_schemas_exp_name"),
    sa.Index("index_label_schemas_experiment_id", "experiment_id"),
)

mcp_access_endpoints = sa.Table(
    "mcp_access_endpoints",
    metadata,
    sa.Column("id", sa.String(36), nullable=False),
    sa.Column("workspace", sa.String(63), nullable=False, server_default="default"),
    sa.Column("server_name", sa.String(256), nullable=False),
    sa.Column("server_version", sa.String(128)),
    sa.Column("server_alias", sa.String(256)),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("transport_type", sa.String(32), nullable=False, server_default="streamable-http"),
    sa.Column("created_by", sa.String(256)),
    sa.Column("last_updated_by", sa.String(256)),
    sa.Column("created_at", sa.BigInteger(), nullable=False),
    sa.Column("last_updated_at", sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint("id", name="mcp_access_endpoints_pk"),
    sa.ForeignKeyConstraint(
        ["workspace", "server_name"],
        ["mcp_servers.workspace", "mcp_servers.name"],
        name="mcp_access_endpoints_server_fkey",
        ondelete="CASCADE",
        onupdate="CASCADE",
    ),
    sa.Index("ix_mcp_access_endpoints_alias", "workspace", "server_name", "server_alias"),
    sa.Index("ix_mcp_access_endpoints_server_name", "workspace", "server_name"),
    sa.Index("ix_mcp_access_endpoints_version", "workspace", "server_name", "server_version"),
)

mcp_server_aliases = sa.Table(
    "mcp_server_aliases",
    metadata,
    sa.Column("workspace", sa.String(63), nullable=False, server_default="default"),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("alias", sa.String(256), nullable=False),
    sa.Column("version", sa.String(128), nullable=False),
    sa.PrimaryKeyConstraint("workspace", "name", "alias", name="mcp_server_aliases_pk"),
    sa.ForeignKeyConstraint(
        ["workspace", "name"],
        ["mcp_servers.workspace", "mcp_servers.name"],
        name="mcp_server_aliases_server_fkey",
        ondelete="CASCADE",
        onupdate="CASCADE",
    ),
)

mcp_server_tags = sa.Table(
    "mcp_server_tags",
    metadata,
    sa.Column("workspace", sa.String(63), nullable=False, server_default="default"),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("key", sa.String(250), nullable=False),
    sa.Column("value", sa.String(5000)),
    sa.PrimaryKeyConstraint("workspace", "name", "key", name="mcp_server_tags_pk"),
    sa.ForeignKeyConstraint(
        ["workspace", "name"],
        ["mcp_servers.workspace", "mcp_servers.name"],
        name="mcp_server_tags_server_fkey",
        ondelete="CASCADE",
        onupdate="CASCADE",
    ),
)

mcp_server_version_tags = sa.Table(
    "mcp_server_version_tags",
    metadata,
    sa.Column("workspace", sa.String(63), nullable=False, server_default="default"),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("version", sa.String(128), nullable=False),
    sa.Column("key", sa.String(250), nullable=False),
    sa.Column("value", sa.String(5000)),
    sa.PrimaryKeyConstraint(
        "workspace", "name", "version", "key", name="mcp_server_version_tags_pk"
    ),
    sa.ForeignKeyConstraint(
        ["workspace", "name", "version"],
        [
            "mcp_server_versions.workspace",
            "mcp_server_versions.name",
            "mcp_server_versions.version",
        ],
        name="mcp_server_version_tags_version_fkey",
        ondelete="CASCADE",
        onupdate="CASCADE",
    ),
)

mcp_server_versions = sa.Table(
    "mcp_server_versions",
    metadata,
    sa.Column("workspace", sa.String(63), nullable=False, server_default="default"),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("version", sa.String(128), nullable=False),
    sa.Column("version_major", sa.Integer(), nullable=False),
    sa.Column("version_minor", sa.Integer(), nullable=False),
    sa.Column("version_patch", sa.Integer(), nullable=False),
    sa.Column("version_prerelease_sort_key", sa.String(512), nullable=False),
    sa.Column("server_json", sa.JSON(), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, server_default="draft"),
    sa.Column("tools", sa.JSON()),
    sa.Column("source", sa.String(512)),
    sa.Column("connect_options", sa.JSON()),
    sa.Column("created_by", sa.String(256)),
    sa.Column("last_updated_by", sa.String(256)),
    sa.Column("created_at", sa.BigInteger(), nullable=False),
    sa.Column("last_updated_at", sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint("workspace", "name", "version", name="mcp_server_versions_pk"),
    sa.ForeignKeyConstraint(
        ["workspace", "name"],
        ["mcp_servers.workspace", "mcp_servers.name"],
        name="mcp_server_versions_server_fkey",
        ondelete="CASCADE",
        onupdate="CASCADE",
    ),
)

# Newest-version lookups scan this index in descending version order.
sa.Index(
    "idx_mcp_server_versions_latest",
    mcp_server_versions.c.workspace,
    mcp_server_versions.c.name,
    mcp_server_versions.c.status,
    mcp_server_versions.c.version_major.desc(),
    mcp_server_versions.c.version_minor.desc(),
    mcp_server_versions.c.version_patch.desc(),
)

mcp_servers = sa.Table(
    "mcp_servers",
    metadata,
    sa.Column("workspace", sa.String(63), nullable=False, server_default="default"),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("display_name", sa.String(256)),
    sa.Column("description", sa.Text()),
    sa.Column("icons", sa.JSON()),
    sa.Column("created_by", sa.String(256)),
    sa.Column("last_updated_by", sa.String(256)),
    sa.Column("created_at", sa.BigInteger(), nullable=False),
    sa.Column("last_updated_at", sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint("workspace", "name", name="mcp_servers_pk"),
)

model_definitions = sa.Table(
    "model_definitions",
    metadata,
    sa.Column("model_definition_id", sa.String(36), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("secret_id", sa.String(36)),
    sa.Column("provider", sa.String(64), nullable=False),
    sa.Column("model_name", sa.String(256), nullable=False),
    sa.Column("created_by", sa.String(255)),
    sa.Column("created_at", sa.BigInteger(), nullable=False),
    sa.Column("last_updated_by", sa.String(255)),
    sa.Column("last_updated_at", sa.BigInteger(), nullable=False),
    sa.Column("workspace", sa.String(63), nullable=False, server_default="default"),
    sa.PrimaryKeyConstraint("model_definition_id", name="model_definitions_pk"),
    sa.ForeignKeyConstraint(
        ["secret_id"],
        ["secrets.secret_id"],
        name="fk_model_definitions_secret_id",
        ondelete="SET NULL",
    ),
    sa.UniqueConstraint("workspace", "name", name="uq_model_definitions_workspace_name"),
    sa.Index("idx_model_definitions_workspace", "workspace"),
    sa.Index("index_model_definitions_provider", "provider"),
    sa.Index("index_model_definitions_secret_id", "secret_id"),
)

online_scoring_configs = sa.Table(
    "online_scoring_configs",
    metadata,
    sa.Column("online_scoring_config_id", sa.String(36), nullable=False),
    sa.Column("scorer_id", sa.String(36), nullable=False),
    sa.Column("sample_rate", _Double, nullable=False),
    sa.Column("experiment_id", sa.Integer(), nullable=False),
    sa.Column("filter_string", sa.Text()),
    sa.PrimaryKeyConstraint("online_scoring_config_id", name="online_scoring_config_pk"),
    sa.ForeignKeyConstraint(
        ["scorer_id"],
        ["scorers.scorer_id"],
        name="fk_online_scoring_configs_scorer_id",
        ondelete="CASCADE",
    ),
    sa.ForeignKeyConstraint(
        ["experiment_id"],
        ["experiments.experiment_id"],
        name="fk_online_scoring_configs_experiment_id",
    ),
)

review_queue_items = sa.Table(
    "review_queue_items",
    metadata,
    sa.Column("queue_id", sa.String(36), nullable=False),
    sa.Column("item_type", sa.String(16), nullable=False),
    sa.Column("item_id", sa.String(50), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("completed_by", sa.String(250)),
    sa.Column("completed_time_ms", sa.BigInteger()),
    sa.Column("creation_time_ms", sa.BigInteger(), nullable=False),
    sa.Column("last_update_time_ms", sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint("queue_id", "item_id", name="review_queue_items_pk"),
    sa.ForeignKeyConstraint(
        ["queue_id"],
        ["review_queues.queue_id"],
        name="fk_review_queue_items_queue_id",
        ondelete="CASCADE",
    ),
    sa.Index("index_review_queue_items_item_id", "item_id"),
    sa.Index("index_review_queue_items_queue_id_status", "queue_id", "status"),
)

review_queue_label_schemas = sa.Table(
    "review_queue_label_schemas",
    metadata,
    sa.Column("queue_id", sa.String(36), nullable=False),
    sa.Column("schema_id", sa.String(36), nullable=False),
    sa.PrimaryKeyConstraint("queue_id", "schema_id", name="review_queue_label_schemas_pk"),
    sa.ForeignKeyConstraint(
        ["queue_id"],
        ["review_queues.queue_id"],
        name="fk_review_queue_label_schemas_queue_id",
        ondelete="CASCADE",
    ),
    sa.Index("index_review_queue_label_schemas_schema_id", "schema_id"),
)

review_queue_users = sa.Table(
    "review_queue_users",
    metadata,
    sa.Column("queue_id", sa.String(36), nullable=False),
    sa.Column("user_id", sa.String(250), nullable=False),
    sa.PrimaryKeyConstraint("queue_id", "user_id", name="review_queue_users_pk"),
    sa.ForeignKeyConstraint(
        ["queue_id"],
        ["review_queues.queue_id"],
        name="fk_review_queue_users_queue_id",
        ondelete="CASCADE",
    ),
    sa.Index("index_review_queue_users_user_id", "user_id"),
)

review_queues = sa.Table(
    "review_queues",
    metadata,
    sa.Column("queue_id", sa.String(36), nullable=False),
    sa.Column("experiment_id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(250), nullable=False),
    sa.Column("queue_type", sa.String(16), nullable=False),
    sa.Column("created_by", sa.String(255)),
    sa.Column("creation_time_ms", sa.BigInteger(), nullable=False),
    sa.Column("last_update_time_ms", sa.BigInteger(), nullable=False),
    sa.Column("name_key", sa.String(250), nullable=False),
    sa.PrimaryKeyConstraint("queue_id", name="review_queues_pk"),
    sa.ForeignKeyConstraint(
        ["experiment_id"],
        ["experiments.experiment_id"],
        name="fk_review_queues_experiment_id",
        ondelete="CASCADE",
    ),
    sa.UniqueConstraint("experiment_id", "name_key", name="uq_review_queues_experiment_name_key"),
    sa.Index("index_review_queues_experiment_id", "experiment_id"),
)

scheduler_leases = sa.Table(
    "scheduler_leases",
    metadata,
    sa.Column("lease_key", sa.String(255), nullable=False),
    sa.Column("acquired_at", sa.BigInteger(), nullable=False),
    sa.Column("ttl_seconds", sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint("lease_key", name="scheduler_leases_pk"),
)

scorer_versions = sa.Table(
    "scorer_versions",
    metadata,
    sa.Column("scorer_id", sa.String(36), nullable=False),
    sa.Column("scorer_version", sa.Integer(), nullable=False),
    sa.Column("serialized_scorer", sa.Text(), nullable=False),
    sa.Column("creation_time", sa.BigInteger()),
    sa.PrimaryKeyConstraint("scorer_id", "scorer_version", name="scorer_version_pk"),
    sa.ForeignKeyConstraint(
        ["scorer_id"],
        ["scorers.scorer_id"],
        name="fk_scorer_versions_scorer_id",
        ondelete="CASCADE",
    ),
    sa.Index("index_scorer_versions_scorer_id", "scorer_id"),
)

scorers = sa.Table(
    "scorers",
    metadata,
    sa.Column("experiment_id", sa.Integer(), nullable=False),
    sa.Column("scorer_name", sa.String(256), nullable=False),
    sa.Column("scorer_id", sa.String(36), nullable=False),
    sa.PrimaryKeyConstraint("scorer_id", name="scorer_pk"),
    sa.ForeignKeyConstraint(
        ["experiment_id"],
        ["experiments.experiment_id"],
        name="fk_scorers_experiment_id",
        ondelete="CASCADE",
    ),
    sa.Index(
        "index_scorers_experiment_id_scorer_name", "experiment_id", "scorer_name", unique=True
    ),
)

secrets = sa.Table(
    "secrets",
    metadata,
    sa.Column("secret_id", sa.String(36), nullable=False),
    sa.Column("secret_name", sa.String(255), nullable=False),
    sa.Column("encrypted_value", sa.LargeBinary(), nullable=False),
    sa.Column("wrapped_dek", sa.LargeBinary(), nullable=False),
    sa.Column("kek_version", sa.Integer(), nullable=False),
    sa.Column("masked_value", sa.String(500), nullable=False),
    sa.Column("provider", sa.String(64)),
    sa.Column("auth_config", sa.Text()),
    sa.Column("description", sa.Text()),
    sa.Column("created_by", sa.String(255)),
    sa.Column("created_at", sa.BigInteger(), nullable=False),
    sa.Column("last_updated_by", sa.String(255)),
    sa.Column("last_updated_at", sa.BigInteger(), nullable=False),
    sa.Column("workspace", sa.String(63), nullable=False, server_default="default"),
    sa.PrimaryKeyConstraint("secret_id", name="secrets_pk"),
    sa.UniqueConstraint("workspace", "secret_name", name="uq_secrets_workspace_secret_name"),
    sa.Index("idx_secrets_workspace", "workspace"),
)

sql_assessment_daily_rollups = sa.Table(
    "sql_assessment_daily_rollups",
    metadata,
    sa.Column("id", _BigIntId, sa.Identity(), nullable=False, autoincrement=True),
    sa.Column("experiment_id", sa.Integer(), nullable=False),
    sa.Column("rollup_day", sa.Date(), nullable=False),
    sa.Column("metric_name", sa.String(250), nullable=False),
    sa.Column("grouping_set", sa.String(50), nullable=False),
    sa.Column("sample_count", sa.BigInteger(), nullable=False),
    sa.Column("sum_value", _Double),
    sa.Column("min_value", _Double),
    sa.Column("max_value", _Double),
    sa.PrimaryKeyConstraint("id", name="sql_assessment_daily_rollups_pk"),
    sa.Index(
        "idx_assessment_rollups_lookup",
        "experiment_id",
        "rollup_day",
        "metric_name",
        "grouping_set",
    ),
)

sql_span_cost_daily_rollups = sa.Table(
    "sql_span_cost_daily_rollups",
    metadata,
    sa.Column("id", _BigIntId, sa.Identity(), nullable=False, autoincrement=True),
    sa.Column("experiment_id", sa.Integer(), nullable=False),
    sa.Column("rollup_day", sa.Date(), nullable=False),
    sa.Column("metric_name", sa.String(250), nullable=False),
    sa.Column("grouping_set", sa.String(50), nullable=False),
    sa.Column("model_name", sa.String(500)),
    sa.Column("model_provider", sa.String(500)),
    sa.Column("sample_count", sa.BigInteger(), nullable=False),
    sa.Column("sum_value", _Double),
    sa.Column("min_value", _Double),
    sa.Column("max_value", _Double),
    sa.PrimaryKeyConstraint("id", name="sql_span_cost_daily_rollups_pk"),
    sa.Index(
        "idx_span_cost_rollups_lookup",
        "experiment_id",
        "rollup_day",
        "metric_name",
        "grouping_set",
        "model_name",
        "model_provider",
    ),
)

sql_trace_metric_daily_rollups = sa.Table(
    "sql_trace_metric_daily_rollups",
    metadata,
    sa.Column("id", _BigIntId, sa.Identity(), nullable=False, autoincrement=True),
    sa.Column("experiment_id", sa.Integer(), nullable=False),
    sa.Column("rollup_day", sa.Date(), nullable=False),
    sa.Column("metric_name", sa.String(250), nullable=False),
    sa.Column("grouping_set", sa.String(50), nullable=False),
    sa.Column("trace_status", sa.String(50)),
    sa.Column("sample_count", sa.BigInteger(), nullable=False),
    sa.Column("sum_value", _Double),
    sa.Column("min_value", _Double),
    sa.Column("max_value", _Double),
    sa.Column("p50_value", _Double),
    sa.Column("p90_value", _Double),
    sa.Column("p99_value", _Double),
    sa.PrimaryKeyConstraint("id", name="sql_trace_metric_daily_rollups_pk"),
    sa.Index(
        "idx_trace_rollups_lookup",
        "experiment_id",
        "rollup_day",
        "metric_name",
        "grouping_set",
        "trace_status",
    ),
)

sql_trace_rollup_rebuild_queue = sa.Table(
    "sql_trace_rollup_rebuild_queue",
    metadata,
    sa.Column("experiment_id", sa.Integer(), nullable=False),
    sa.Column("rollup_day", sa.Date(), nullable=False),
    sa.Column("rollup_family", sa.String(50), nullable=False),
    sa.PrimaryKeyConstraint(
        "experiment_id", "rollup_day", "rollup_family", name="sql_trace_rollup_rebuild_queue_pk"
    ),
)

webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("webhook_id", sa.String(256), nullable=False),
    sa.Column("entity", sa.String(50), nullable=False),
    sa.Column("action", sa.String(50), nullable=False),
    sa.PrimaryKeyConstraint("webhook_id", "entity", "action", name="webhook_event_pk"),
    sa.ForeignKeyConstraint(["webhook_id"], ["webhooks.webhook_id"], ondelete="CASCADE"),
    sa.Index("idx_webhook_events_action", "action"),
    sa.Index("idx_webhook_events_entity", "entity"),
    sa.Index("idx_webhook_events_entity_action", "entity", "action"),
)

webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("webhook_id", sa.String(256), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("description", sa.String(1000)),
    sa.Column("url", sa.String(500), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, server_default="ACTIVE"),
    sa.Column("secret", sa.String(1000)),
    sa.Column("creation_timestamp", sa.BigInteger()),
    sa.Column("last_updated_timestamp", sa.BigInteger()),
    sa.Column("deleted_timestamp", sa.BigInteger()),
    sa.Column("workspace", sa.String(63), nullable=False, server_default="default"),
    sa.PrimaryKeyConstraint("webhook_id", name="webhook_pk"),
    sa.Index("idx_webhooks_name", "name"),
    sa.Index("idx_webhooks_status", "status"),
    sa.Index("idx_webhooks_workspace", "workspace"),
)

workspaces = sa.Table(
    "workspaces",
    metadata,
    sa.Column("name", sa.String(63), nullable=False),
    sa.Column("description", sa.Text()),
    sa.Column("default_artifact_root", sa.Text()),
    sa.Column("trace_archival_location", sa.Text()),
    sa.Column("trace_archival_retention", sa.String(32)),
    sa.PrimaryKeyConstraint("name", name="workspaces_pk"),
)
