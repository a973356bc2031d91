"""The condition a registry search adds for a user who is not an administrator: only the
registered models (and prompts) they may read, decided in the query so that pages stay full."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from runyard.domain.permissions import ReadableModels
from runyard.store.auth_schema import registered_model_permissions as _grants


def readable_models(name: ColumnElement[str], who: ReadableModels) -> ColumnElement[bool]:
    """Whether the registered model ``name`` (a column of the searched table) is one ``who``
    may read: a correlated lookup of their grant on it, which the primary key serves."""
    mine = sa.and_(_grants.c.name == name, _grants.c.user_id == who.user_id)
    granted = sa.exists().where(mine, _grants.c.permission.in_(who.levels))
    if not who.ungranted:
        return granted
    return sa.or_(granted, ~sa.exists().where(mine))
