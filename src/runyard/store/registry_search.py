"""The page query both registry searches share: over registered_models or model_versions.

Filters are compared by the runs' rules (``search_sql``); a tag filter is an EXISTS on the
table's own tags; prompts (models carrying the prompt mark) are left out unless the filter
asks for them; only the models ``readable`` allows are counted, so pages stay full and their
offset tokens count only what the caller sees.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from runyard.domain.entities import PROMPT_TAG
from runyard.domain.permissions import ReadableModels
from runyard.domain.search import Comparison, OrderKey
from runyard.store import readable_sql
from runyard.store.search_sql import compare, sort_key, tagged

_MODEL = ("workspace", "name")


def page_query(
    table: sa.Table,
    tags: sa.Table,
    keys: Sequence[str],
    conditions: Sequence[ColumnElement[bool]],
    filters: Sequence[Comparison],
    order_by: Sequence[OrderKey],
    exclude_prompts: bool,
    offset: int,
    limit: int,
    readable: ReadableModels | None,
) -> sa.Select[tuple[object, ...]]:
    """One page of ``table``'s rows meeting ``conditions`` and ``filters``, ``tags`` being its
    tag table, matched on the ``keys`` columns."""
    where = [*conditions, *(_filter(table, tags, keys, c) for c in filters)]
    if readable is not None:
        where.append(readable_sql.readable_models(table.c.name, readable))
    if exclude_prompts:
        prompt = tagged(tags, table, _MODEL, PROMPT_TAG, tags.c.value == "true")
        where.append(sa.not_(prompt))
    ordering = [
        sort_key(table.c[k.key]).asc() if k.ascending else sort_key(table.c[k.key]).desc()
        for k in order_by
    ]
    return sa.select(table).where(*where).order_by(*ordering).offset(offset).limit(limit)


def _filter(
    table: sa.Table, tags: sa.Table, keys: Sequence[str], c: Comparison
) -> ColumnElement[bool]:
    if c.entity == "tag":
        return tagged(tags, table, keys, c.key, compare(tags.c.value, c.comparator, c.value))
    return compare(table.c[c.key], c.comparator, c.value)
