"""runyard's own tables for users, API tokens and experiment and registered model permissions.

They live in the metadata database next to MLflow's, prefixed ``runyard_``, and are created
with ``checkfirst`` when auth is used rather than by an alembic revision: MLflow refuses a
database whose revision it does not know, and these tables are invisible to it otherwise.
No foreign key points at MLflow's tables, so ``mlflow gc`` can still hard-delete experiments.
A database made before a table was added gets it the same way, on the next start.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

users = sa.Table(
    "runyard_users",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(255), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),  # argon2id, PHC string
    sa.Column("is_admin", sa.Boolean(), nullable=False, default=False),
    sa.Column("created_at", sa.BigInteger(), nullable=False),  # ms since the epoch
    sa.UniqueConstraint("username", name="runyard_users_username_key"),
)

tokens = sa.Table(
    "runyard_tokens",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column(
        "user_id",
        sa.Integer(),
        sa.ForeignKey("runyard_users.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),  # of the token; the token is never kept
    sa.Column("created_at", sa.BigInteger(), nullable=False),
    sa.UniqueConstraint("sha256", name="runyard_tokens_sha256_key"),
)

experiment_permissions = sa.Table(
    "runyard_experiment_permissions",
    metadata,
    sa.Column("experiment_id", sa.Integer(), nullable=False),  # experiments.experiment_id
    sa.Column(
        "user_id",
        sa.Integer(),
        sa.ForeignKey("runyard_users.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("permission", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("user_id", "experiment_id", name="runyard_experiment_permissions_pk"),
)

# As MLflow's basic auth keeps them (name, user, permission), by the model's name: renaming a
# model moves its grants, deleting it drops them (services/auth.py), and prompts, which are
# registered models, share the table.
registered_model_permissions = sa.Table(
    "runyard_registered_model_permissions",
    metadata,
    sa.Column("name", sa.String(256), nullable=False),  # registered_models.name
    sa.Column(
        "user_id",
        sa.Integer(),
        sa.ForeignKey("runyard_users.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("permission", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("user_id", "name", name="runyard_registered_model_permissions_pk"),
    sa.Index("runyard_registered_model_permissions_name", "name"),
)
