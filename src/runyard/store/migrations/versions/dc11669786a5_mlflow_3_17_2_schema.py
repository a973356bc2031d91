"""Create MLflow 3.17.2's whole schema (its alembic head) in one step.

Revision ID: dc11669786a5
Revises:
Create Date: 2026-11-25

The id is MLflow's own head revision on purpose: ``alembic_version`` then reads the same in a
database created by runyard and in one created by ``mlflow db upgrade``, so each tool accepts the
other's database as current. Everything is spelled out rather than taken from
``runyard.store.schema.metadata``: a migration must stay frozen while schema.py moves on, or a
fresh database would get later columns here and the later revisions adding them would fail.
Tables are created parents first; within that, tracking core, models, registry, traces, the rest.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "dc11669786a5"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiments",
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
    )
    op.create_index("idx_experiments_workspace", "experiments", ["workspace"])
    op.create_index(
        "idx_experiments_workspace_creation_time", "experiments", ["workspace", "creation_time"]
    )

    op.create_table(
        "experiment_tags",
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Text()),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "experiment_id", name="experiment_tag_pk"),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.experiment_id"]),
    )

    op.create_table(
        "runs",
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

    op.create_table(
        "tags",
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.String(8000)),
        sa.Column("run_uuid", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("key", "run_uuid", name="tag_pk"),
        sa.ForeignKeyConstraint(["run_uuid"], ["runs.run_uuid"]),
    )
    op.create_index("index_tags_run_uuid", "tags", ["run_uuid"])

    op.create_table(
        "params",
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.String(8000), nullable=False),
        sa.Column("run_uuid", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("key", "run_uuid", name="param_pk"),
        sa.ForeignKeyConstraint(["run_uuid"], ["runs.run_uuid"]),
    )
    op.create_index("index_params_run_uuid", "params", ["run_uuid"])

    op.create_table(
        "metrics",
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("run_uuid", sa.String(32), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("is_nan", sa.Boolean(create_constraint=True), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint(
            "key", "timestamp", "step", "run_uuid", "value", "is_nan", name="metric_pk"
        ),
        sa.ForeignKeyConstraint(["run_uuid"], ["runs.run_uuid"]),
    )
    op.create_index("index_metrics_run_uuid", "metrics", ["run_uuid"])
    op.create_index("index_metrics_run_uuid_key_step", "metrics", ["run_uuid", "key", "step"])

    op.create_table(
        "latest_metrics",
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=False),
        sa.Column("timestamp", sa.BigInteger()),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("is_nan", sa.Boolean(create_constraint=True), nullable=False),
        sa.Column("run_uuid", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("key", "run_uuid", name="latest_metric_pk"),
        sa.ForeignKeyConstraint(["run_uuid"], ["runs.run_uuid"]),
    )
    op.create_index("index_latest_metrics_run_uuid", "latest_metrics", ["run_uuid"])

    op.create_table(
        "datasets",
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
    )
    op.create_index("index_datasets_dataset_uuid", "datasets", ["dataset_uuid"])
    op.create_index(
        "index_datasets_experiment_id_dataset_source_type",
        "datasets",
        ["experiment_id", "dataset_source_type"],
    )

    op.create_table(
        "inputs",
        sa.Column("input_uuid", sa.String(36), nullable=False),
        sa.Column("source_type", sa.String(36), nullable=False),
        sa.Column("source_id", sa.String(36), nullable=False),
        sa.Column("destination_type", sa.String(36), nullable=False),
        sa.Column("destination_id", sa.String(36), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint(
            "source_type", "source_id", "destination_type", "destination_id", name="inputs_pk"
        ),
    )
    op.create_index(
        "index_inputs_destination_type_destination_id_source_type",
        "inputs",
        ["destination_type", "destination_id", "source_type"],
    )
    op.create_index("index_inputs_input_uuid", "inputs", ["input_uuid"])

    op.create_table(
        "input_tags",
        sa.Column("input_uuid", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("input_uuid", "name", name="input_tags_pk"),
    )

    op.create_table(
        "logged_models",
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

    op.create_table(
        "logged_model_params",
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

    op.create_table(
        "logged_model_tags",
        sa.Column("model_id", sa.String(36), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("tag_key", sa.String(255), nullable=False),
        sa.Column("tag_value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("model_id", "tag_key", name="logged_model_tags_pk"),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.experiment_id"],
            name="fk_logged_model_tags_experiment_id",
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["logged_models.model_id"],
            name="fk_logged_model_tags_model_id",
            ondelete="CASCADE",
        ),
    )

    op.create_table(
        "logged_model_metrics",
        sa.Column("model_id", sa.String(36), nullable=False),
        sa.Column("metric_name", sa.String(500), nullable=False),
        sa.Column("metric_timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("metric_step", sa.BigInteger(), nullable=False),
        sa.Column("metric_value", sa.Float(precision=53)),
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
    )
    op.create_index("index_logged_model_metrics_model_id", "logged_model_metrics", ["model_id"])

    op.create_table(
        "registered_models",
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("creation_time", sa.BigInteger()),
        sa.Column("last_updated_time", sa.BigInteger()),
        sa.Column("description", sa.String(5000)),
        sa.Column("workspace", sa.String(63), nullable=False, server_default="default"),
        sa.PrimaryKeyConstraint("workspace", "name", name="registered_model_pk"),
    )
    op.create_index("idx_registered_models_workspace", "registered_models", ["workspace"])

    op.create_table(
        "registered_model_tags",
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
    )
    op.create_index(
        "idx_registered_model_tags_workspace_name", "registered_model_tags", ["workspace", "name"]
    )

    op.create_table(
        "model_versions",
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

    op.create_table(
        "model_version_tags",
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
    )
    op.create_index(
        "idx_model_version_tags_workspace_name_version",
        "model_version_tags",
        ["workspace", "name", "version"],
    )

    op.create_table(
        "registered_model_aliases",
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

    op.create_table(
        "trace_info",
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
        sa.Column("input_cost", sa.Float(precision=53)),
        sa.Column("output_cost", sa.Float(precision=53)),
        sa.Column("total_cost", sa.Float(precision=53)),
        sa.PrimaryKeyConstraint("request_id", name="trace_info_pk"),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.experiment_id"],
            name="fk_trace_info_experiment_id",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "index_trace_info_experiment_id_session_id", "trace_info", ["experiment_id", "session_id"]
    )
    op.create_index(
        "index_trace_info_experiment_id_timestamp_ms",
        "trace_info",
        ["experiment_id", "timestamp_ms"],
    )
    op.create_index(
        "index_trace_info_timestamp_ms_request_id", "trace_info", ["timestamp_ms", "request_id"]
    )

    op.create_table(
        "trace_tags",
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
    )
    op.create_index("index_trace_tags_request_id", "trace_tags", ["request_id"])

    op.create_table(
        "trace_request_metadata",
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
    )
    op.create_index(
        "index_trace_request_metadata_request_id", "trace_request_metadata", ["request_id"]
    )

    op.create_table(
        "assessments",
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
        sa.Column("aggregate_value", sa.Float(precision=53)),
        sa.Column("is_numeric_value", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("assessment_id", name="assessments_pk"),
        sa.ForeignKeyConstraint(
            ["trace_id"],
            ["trace_info.request_id"],
            name="fk_assessments_trace_id",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "idx_assessments_exp_name_valid", "assessments", ["experiment_id", "name", "valid"]
    )
    op.create_index(
        "idx_assessments_exp_trace_ts", "assessments", ["experiment_id", "trace_timestamp_ms"]
    )
    op.create_index(
        "idx_assessments_exp_trace_ts_name",
        "assessments",
        ["experiment_id", "trace_timestamp_ms", "name"],
    )
    op.create_index("index_assessments_assessment_type", "assessments", ["assessment_type"])
    op.create_index(
        "index_assessments_last_updated_timestamp", "assessments", ["last_updated_timestamp"]
    )
    op.create_index(
        "index_assessments_run_id_created_timestamp", "assessments", ["run_id", "created_timestamp"]
    )
    op.create_index(
        "index_assessments_trace_id_created_timestamp",
        "assessments",
        ["trace_id", "created_timestamp"],
    )

    op.create_table(
        "spans",
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
        sa.Column("input_cost", sa.Float(precision=53)),
        sa.Column("output_cost", sa.Float(precision=53)),
        sa.Column("total_cost", sa.Float(precision=53)),
        sa.Column("model_name", sa.String(500)),
        sa.Column("model_provider", sa.String(500)),
        sa.PrimaryKeyConstraint("trace_id", "span_id", name="spans_pk"),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["experiments.experiment_id"], name="fk_spans_experiment_id"
        ),
        sa.ForeignKeyConstraint(
            ["trace_id"], ["trace_info.request_id"], name="fk_spans_trace_id", ondelete="CASCADE"
        ),
    )
    op.create_index(
        "idx_spans_cost_exp_time_cover",
        "spans",
        ["experiment_id", "start_time_unix_nano"],
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
    )
    op.create_index(
        "idx_spans_cost_trace_time_cover",
        "spans",
        ["trace_id", "start_time_unix_nano"],
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
    )
    op.create_index("index_spans_experiment_id_duration", "spans", ["experiment_id", "duration_ns"])
    op.create_index(
        "index_spans_experiment_id_start_time", "spans", ["experiment_id", "start_time_unix_nano"]
    )
    op.create_index(
        "index_spans_experiment_id_status_type", "spans", ["experiment_id", "status", "type"]
    )
    op.create_index(
        "index_spans_experiment_id_type_status", "spans", ["experiment_id", "type", "status"]
    )

    op.create_table(
        "span_metrics",
        sa.Column("trace_id", sa.String(50), nullable=False),
        sa.Column("span_id", sa.String(50), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Float(precision=53)),
        sa.PrimaryKeyConstraint("trace_id", "span_id", "key", name="span_metrics_pk"),
        sa.ForeignKeyConstraint(
            ["trace_id", "span_id"],
            ["spans.trace_id", "spans.span_id"],
            name="fk_span_metrics_span",
            ondelete="CASCADE",
        ),
    )
    op.create_index("index_span_metrics_trace_id_span_id", "span_metrics", ["trace_id", "span_id"])

    op.create_table(
        "trace_metrics",
        sa.Column("request_id", sa.String(50), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Float(precision=53)),
        sa.PrimaryKeyConstraint("request_id", "key", name="trace_metrics_pk"),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["trace_info.request_id"],
            name="fk_trace_metrics_request_id",
            ondelete="CASCADE",
        ),
    )
    op.create_index("index_trace_metrics_request_id", "trace_metrics", ["request_id"])

    op.create_table(
        "budget_policies",
        sa.Column("budget_policy_id", sa.String(36), nullable=False),
        sa.Column("budget_unit", sa.String(32), nullable=False),
        sa.Column("budget_amount", sa.Float(precision=53), nullable=False),
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
    )
    op.create_index("idx_budget_policies_target_value", "budget_policies", ["target_value"])
    op.create_index("idx_budget_policies_workspace", "budget_policies", ["workspace"])

    op.create_table(
        "endpoints",
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
    )
    op.create_index("idx_endpoints_workspace", "endpoints", ["workspace"])

    op.create_table(
        "endpoint_bindings",
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

    op.create_table(
        "secrets",
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
    )
    op.create_index("idx_secrets_workspace", "secrets", ["workspace"])

    op.create_table(
        "model_definitions",
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
    )
    op.create_index("idx_model_definitions_workspace", "model_definitions", ["workspace"])
    op.create_index("index_model_definitions_provider", "model_definitions", ["provider"])
    op.create_index("index_model_definitions_secret_id", "model_definitions", ["secret_id"])

    op.create_table(
        "endpoint_model_mappings",
        sa.Column("mapping_id", sa.String(36), nullable=False),
        sa.Column("endpoint_id", sa.String(36), nullable=False),
        sa.Column("model_definition_id", sa.String(36), nullable=False),
        sa.Column("weight", sa.Float(precision=53), nullable=False),
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
    )
    op.create_index(
        "index_endpoint_model_mappings_endpoint_id", "endpoint_model_mappings", ["endpoint_id"]
    )
    op.create_index(
        "index_endpoint_model_mappings_model_definition_id",
        "endpoint_model_mappings",
        ["model_definition_id"],
    )
    op.create_index(
        "unique_endpoint_model_linkage_mapping",
        "endpoint_model_mappings",
        ["endpoint_id", "model_definition_id", "linkage_type"],
        unique=True,
    )

    op.create_table(
        "endpoint_tags",
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
    )
    op.create_index("index_endpoint_tags_endpoint_id", "endpoint_tags", ["endpoint_id"])

    op.create_table(
        "entity_associations",
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
    )
    op.create_index(
        "index_entity_associations_association_id", "entity_associations", ["association_id"]
    )
    op.create_index(
        "index_entity_associations_reverse_lookup",
        "entity_associations",
        ["destination_type", "destination_id", "source_type", "source_id"],
    )

    op.create_table(
        "evaluation_datasets",
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
    )
    op.create_index("idx_evaluation_datasets_workspace", "evaluation_datasets", ["workspace"])
    op.create_index(
        "index_evaluation_datasets_created_time", "evaluation_datasets", ["created_time"]
    )
    op.create_index("index_evaluation_datasets_name", "evaluation_datasets", ["name"])

    op.create_table(
        "evaluation_dataset_records",
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
    )
    op.create_index(
        "index_evaluation_dataset_records_dataset_id", "evaluation_dataset_records", ["dataset_id"]
    )

    op.create_table(
        "evaluation_dataset_tags",
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
    )
    op.create_index(
        "index_evaluation_dataset_tags_dataset_id", "evaluation_dataset_tags", ["dataset_id"]
    )

    op.create_table(
        "scorers",
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
    )
    op.create_index(
        "index_scorers_experiment_id_scorer_name",
        "scorers",
        ["experiment_id", "scorer_name"],
        unique=True,
    )

    op.create_table(
        "scorer_versions",
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
    )
    op.create_index("index_scorer_versions_scorer_id", "scorer_versions", ["scorer_id"])

    op.create_table(
        "guardrails",
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
    )
    op.create_index("idx_guardrails_scorer", "guardrails", ["scorer_id", "scorer_version"])
    op.create_index("idx_guardrails_workspace", "guardrails", ["workspace"])

    op.create_table(
        "guardrail_configs",
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
    )
    op.create_index("idx_guardrail_configs_endpoint_id", "guardrail_configs", ["endpoint_id"])
    op.create_index("idx_guardrail_configs_guardrail_id", "guardrail_configs", ["guardrail_id"])

    op.create_table(
        "issues",
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
            ["source_run_id"],
            ["runs.run_uuid"],
            name="fk_issues_source_run_id",
            ondelete="SET NULL",
        ),
    )
    op.create_index("index_issues_experiment_id", "issues", ["experiment_id"])
    op.create_index("index_issues_source_run_id", "issues", ["source_run_id"])
    op.create_index("index_issues_status", "issues", ["status"])

    op.create_table(
        "jobs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("job_name", sa.String(500), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("timeout", sa.Float(precision=53)),
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
    )
    op.create_index(
        "index_jobs_name_status_creation_time",
        "jobs",
        ["job_name", "workspace", "status", "creation_time"],
    )
    op.create_index("index_jobs_status_lease_expires_at", "jobs", ["status", "lease_expires_at"])

    op.create_table(
        "job_locks",
        sa.Column("lock_key", sa.String(255), nullable=False),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("acquired_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("lock_key", name="job_locks_pk"),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_job_locks_job_id", ondelete="CASCADE"
        ),
    )
    op.create_index("index_job_locks_job_id", "job_locks", ["job_id"])

    op.create_table(
        "label_schemas",
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
    )
    op.create_index("index_label_schemas_experiment_id", "label_schemas", ["experiment_id"])

    op.create_table(
        "mcp_servers",
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

    op.create_table(
        "mcp_access_endpoints",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("workspace", sa.String(63), nullable=False, server_default="default"),
        sa.Column("server_name", sa.String(256), nullable=False),
        sa.Column("server_version", sa.String(128)),
        sa.Column("server_alias", sa.String(256)),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column(
            "transport_type", sa.String(32), nullable=False, server_default="streamable-http"
        ),
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
    )
    op.create_index(
        "ix_mcp_access_endpoints_alias",
        "mcp_access_endpoints",
        ["workspace", "server_name", "server_alias"],
    )
    op.create_index(
        "ix_mcp_access_endpoints_server_name", "mcp_access_endpoints", ["workspace", "server_name"]
    )
    op.create_index(
        "ix_mcp_access_endpoints_version",
        "mcp_access_endpoints",
        ["workspace", "server_name", "server_version"],
    )

    op.create_table(
        "mcp_server_aliases",
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

    op.create_table(
        "mcp_server_tags",
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

    op.create_table(
        "mcp_server_versions",
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
    op.create_index(
        "idx_mcp_server_versions_latest",
        "mcp_server_versions",
        [
            "workspace",
            "name",
            "status",
            sa.text("version_major DESC"),
            sa.text("version_minor DESC"),
            sa.text("version_patch DESC"),
        ],
    )

    op.create_table(
        "mcp_server_version_tags",
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

    op.create_table(
        "online_scoring_configs",
        sa.Column("online_scoring_config_id", sa.String(36), nullable=False),
        sa.Column("scorer_id", sa.String(36), nullable=False),
        sa.Column("sample_rate", sa.Float(precision=53), nullable=False),
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

    op.create_table(
        "review_queues",
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
        sa.UniqueConstraint(
            "experiment_id", "name_key", name="uq_review_queues_experiment_name_key"
        ),
    )
    op.create_index("index_review_queues_experiment_id", "review_queues", ["experiment_id"])

    op.create_table(
        "review_queue_items",
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
    )
    op.create_index("index_review_queue_items_item_id", "review_queue_items", ["item_id"])
    op.create_index(
        "index_review_queue_items_queue_id_status", "review_queue_items", ["queue_id", "status"]
    )

    op.create_table(
        "review_queue_label_schemas",
        sa.Column("queue_id", sa.String(36), nullable=False),
        sa.Column("schema_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("queue_id", "schema_id", name="review_queue_label_schemas_pk"),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["review_queues.queue_id"],
            name="fk_review_queue_label_schemas_queue_id",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "index_review_queue_label_schemas_schema_id", "review_queue_label_schemas", ["schema_id"]
    )

    op.create_table(
        "review_queue_users",
        sa.Column("queue_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(250), nullable=False),
        sa.PrimaryKeyConstraint("queue_id", "user_id", name="review_queue_users_pk"),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["review_queues.queue_id"],
            name="fk_review_queue_users_queue_id",
            ondelete="CASCADE",
        ),
    )
    op.create_index("index_review_queue_users_user_id", "review_queue_users", ["user_id"])

    op.create_table(
        "scheduler_leases",
        sa.Column("lease_key", sa.String(255), nullable=False),
        sa.Column("acquired_at", sa.BigInteger(), nullable=False),
        sa.Column("ttl_seconds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("lease_key", name="scheduler_leases_pk"),
    )

    op.create_table(
        "sql_assessment_daily_rollups",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(),
            nullable=False,
            autoincrement=True,
        ),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("rollup_day", sa.Date(), nullable=False),
        sa.Column("metric_name", sa.String(250), nullable=False),
        sa.Column("grouping_set", sa.String(50), nullable=False),
        sa.Column("sample_count", sa.BigInteger(), nullable=False),
        sa.Column("sum_value", sa.Float(precision=53)),
        sa.Column("min_value", sa.Float(precision=53)),
        sa.Column("max_value", sa.Float(precision=53)),
        sa.PrimaryKeyConstraint("id", name="sql_assessment_daily_rollups_pk"),
    )
    op.create_index(
        "idx_assessment_rollups_lookup",
        "sql_assessment_daily_rollups",
        ["experiment_id", "rollup_day", "metric_name", "grouping_set"],
    )

    op.create_table(
        "sql_span_cost_daily_rollups",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(),
            nullable=False,
            autoincrement=True,
        ),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("rollup_day", sa.Date(), nullable=False),
        sa.Column("metric_name", sa.String(250), nullable=False),
        sa.Column("grouping_set", sa.String(50), nullable=False),
        sa.Column("model_name", sa.String(500)),
        sa.Column("model_provider", sa.String(500)),
        sa.Column("sample_count", sa.BigInteger(), nullable=False),
        sa.Column("sum_value", sa.Float(precision=53)),
        sa.Column("min_value", sa.Float(precision=53)),
        sa.Column("max_value", sa.Float(precision=53)),
        sa.PrimaryKeyConstraint("id", name="sql_span_cost_daily_rollups_pk"),
    )
    op.create_index(
        "idx_span_cost_rollups_lookup",
        "sql_span_cost_daily_rollups",
        [
            "experiment_id",
            "rollup_day",
            "metric_name",
            "grouping_set",
            "model_name",
            "model_provider",
        ],
    )

    op.create_table(
        "sql_trace_metric_daily_rollups",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(),
            nullable=False,
            autoincrement=True,
        ),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("rollup_day", sa.Date(), nullable=False),
        sa.Column("metric_name", sa.String(250), nullable=False),
        sa.Column("grouping_set", sa.String(50), nullable=False),
        sa.Column("trace_status", sa.String(50)),
        sa.Column("sample_count", sa.BigInteger(), nullable=False),
        sa.Column("sum_value", sa.Float(precision=53)),
        sa.Column("min_value", sa.Float(precision=53)),
        sa.Column("max_value", sa.Float(precision=53)),
        sa.Column("p50_value", sa.Float(precision=53)),
        sa.Column("p90_value", sa.Float(precision=53)),
        sa.Column("p99_value", sa.Float(precision=53)),
        sa.PrimaryKeyConstraint("id", name="sql_trace_metric_daily_rollups_pk"),
    )
    op.create_index(
        "idx_trace_rollups_lookup",
        "sql_trace_metric_daily_rollups",
        ["experiment_id", "rollup_day", "metric_name", "grouping_set", "trace_status"],
    )

    op.create_table(
        "sql_trace_rollup_rebuild_queue",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("rollup_day", sa.Date(), nullable=False),
        sa.Column("rollup_family", sa.String(50), nullable=False),
        sa.PrimaryKeyConstraint(
            "experiment_id", "rollup_day", "rollup_family", name="sql_trace_rollup_rebuild_queue_pk"
        ),
    )

    op.create_table(
        "webhooks",
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
    )
    op.create_index("idx_webhooks_name", "webhooks", ["name"])
    op.create_index("idx_webhooks_status", "webhooks", ["status"])
    op.create_index("idx_webhooks_workspace", "webhooks", ["workspace"])

    op.create_table(
        "webhook_events",
        sa.Column("webhook_id", sa.String(256), nullable=False),
        sa.Column("entity", sa.String(50), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.PrimaryKeyConstraint("webhook_id", "entity", "action", name="webhook_event_pk"),
        sa.ForeignKeyConstraint(["webhook_id"], ["webhooks.webhook_id"], ondelete="CASCADE"),
    )
    op.create_index("idx_webhook_events_action", "webhook_events", ["action"])
    op.create_index("idx_webhook_events_entity", "webhook_events", ["entity"])
    op.create_index("idx_webhook_events_entity_action", "webhook_events", ["entity", "action"])

    op.create_table(
        "workspaces",
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("default_artifact_root", sa.Text()),
        sa.Column("trace_archival_location", sa.Text()),
        sa.Column("trace_archival_retention", sa.String(32)),
        sa.PrimaryKeyConstraint("name", name="workspaces_pk"),
    )

    # MLflow's workspace migration seeds this row, so `mlflow db upgrade` databases have it and
    # MLflow's workspace-aware code expects it; it is schema-level data, unlike the "Default"
    # experiment, whose artifact location depends on the server's configuration.
    workspaces = sa.table(
        "workspaces", sa.column("name", sa.String()), sa.column("description", sa.Text())
    )
    op.bulk_insert(
        workspaces,
        [{"name": "default", "description": "Default workspace for legacy resources"}],
    )


def downgrade() -> None:
    # Children before parents, so no foreign key is ever left dangling.
    op.drop_table("workspaces")
    op.drop_table("webhook_events")
    op.drop_table("webhooks")
    op.drop_table("sql_trace_rollup_rebuild_queue")
    op.drop_table("sql_trace_metric_daily_rollups")
    op.drop_table("sql_span_cost_daily_rollups")
    op.drop_table("sql_assessment_daily_rollups")
    op.drop_table("scheduler_leases")
    op.drop_table("review_queue_users")
    op.drop_table("review_queue_label_schemas")
    op.drop_table("review_queue_items")
    op.drop_table("review_queues")
    op.drop_table("online_scoring_configs")
    op.drop_table("mcp_server_version_tags")
    op.drop_table("mcp_server_versions")
    op.drop_table("mcp_server_tags")
    op.drop_table("mcp_server_aliases")
    op.drop_table("mcp_access_endpoints")
    op.drop_table("mcp_servers")
    op.drop_table("label_schemas")
    op.drop_table("job_locks")
    op.drop_table("jobs")
    op.drop_table("issues")
    op.drop_table("guardrail_configs")
    op.drop_table("guardrails")
    op.drop_table("scorer_versions")
    op.drop_table("scorers")
    op.drop_table("evaluation_dataset_tags")
    op.drop_table("evaluation_dataset_records")
    op.drop_table("evaluation_datasets")
    op.drop_table("entity_associations")
    op.drop_table("endpoint_tags")
    op.drop_table("endpoint_model_mappings")
    op.drop_table("model_definitions")
    op.drop_table("secrets")
    op.drop_table("endpoint_bindings")
    op.drop_table("endpoints")
    op.drop_table("budget_policies")
    op.drop_table("trace_metrics")
    op.drop_table("span_metrics")
    op.drop_table("spans")
    op.drop_table("assessments")
    op.drop_table("trace_request_metadata")
    op.drop_table("trace_tags")
    op.drop_table("trace_info")
    op.drop_table("registered_model_aliases")
    op.drop_table("model_version_tags")
    op.drop_table("model_versions")
    op.drop_table("registered_model_tags")
    op.drop_table("registered_models")
    op.drop_table("logged_model_metrics")
    op.drop_table("logged_model_tags")
    op.drop_table("logged_model_params")
    op.drop_table("logged_models")
    op.drop_table("input_tags")
    op.drop_table("inputs")
    op.drop_table("datasets")
    op.drop_table("latest_metrics")
    op.drop_table("metrics")
    op.drop_table("params")
    op.drop_table("tags")
    op.drop_table("runs")
    op.drop_table("experiment_tags")
    op.drop_table("experiments")
