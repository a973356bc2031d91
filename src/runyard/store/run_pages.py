"""Whole runs (info, params, tags, latest metrics, dataset inputs, model inputs and outputs),
loaded a page at a time for get-run and search.

PostgreSQL: one statement. The page's run ids (a bound array, or the search's id query itself
inside ``ARRAY(...)``, which keeps its order) are joined to every child table and the rows come
back as one ``UNION ALL`` of tagged rows, so a 1000-run page costs one round trip and the id list
is never sent back and forth. SQLite: an id query, then one query per child table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from runyard.domain.entities import (
    Dataset,
    DatasetInput,
    Metric,
    ModelIO,
    Param,
    Run,
    RunInfo,
    Tag,
)
from runyard.domain.search import Comparison, OrderKey
from runyard.store import experiments as experiment_store
from runyard.store import runs as run_store
from runyard.store.engine import Connection, fetch_raw, in_list
from runyard.store.schema import datasets, input_tags, inputs, latest_metrics, params, runs, tags
from runyard.store.search_sql import select_run_ids


def load(conn: Connection, run_ids: Sequence[str]) -> list[Run]:
    """Whole runs in the order given; ids with no run are skipped."""
    if conn.dialect.name != "postgresql":
        return _load_generic(conn, run_ids)
    ids = list(dict.fromkeys(run_ids))
    found = {r.info.run_id: r for r in _page_pg(conn, "unnest(%(ids)s::varchar[])", {"ids": ids})}
    return [found[i] for i in run_ids if i in found]


def search(
    conn: Connection,
    experiment_ids: Sequence[int],
    filters: Sequence[Comparison],
    order_by: Sequence[OrderKey],
    view_type: str,
    offset: int,
    limit: int,
) -> list[Run]:
    """One page of matching runs, in search order."""
    experiment_ids = [i for i in experiment_ids if experiment_store.can_exist(i)]
    query = select_run_ids(
        list(experiment_ids), list(filters), list(order_by), view_type, offset, limit
    )
    if conn.dialect.name == "postgresql":
        compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        return _page_pg(conn, f"unnest(ARRAY({compiled.string}))", compiled.params)
    ids: list[Any] = list(conn.execute(query).scalars())
    return _load_generic(conn, [str(i) for i in ids])


# Row kinds of the PostgreSQL page query, and what its generic columns hold for each.
_RUN, _PARAM, _TAG, _METRIC, _DATASET, _INPUT_TAG, _MODEL_IO = range(7)
_PAGE_PG = """
WITH page AS MATERIALIZED (
    SELECT run_uuid, ord FROM {source} WITH ORDINALITY AS p(run_uuid, ord)
), dataset_inputs AS MATERIALIZED (
    SELECT i.destination_id AS run_uuid, i.input_uuid, d.name, d.digest, d.dataset_source_type,
        d.dataset_source, d.dataset_schema, d.dataset_profile
    FROM page
    JOIN inputs i ON i.destination_type = 'RUN' AND i.destination_id = page.run_uuid
        AND i.source_type = 'DATASET'
    JOIN datasets d ON d.dataset_uuid = i.source_id
)
SELECT 0, r.run_uuid, r.name::text, r.user_id::text, r.status::text, r.artifact_uri::text,
    r.lifecycle_stage::text, NULL::text, NULL::text, NULL::float8, page.ord::bigint,
    r.experiment_id::bigint, r.start_time::bigint, r.end_time::bigint, NULL::boolean
FROM page JOIN runs r ON r.run_uuid = page.run_uuid
UNION ALL
SELECT 1, p.run_uuid, p.key, p.value, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL
FROM page JOIN params p ON p.run_uuid = page.run_uuid
UNION ALL
SELECT 2, t.run_uuid, t.key, t.value, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL
FROM page JOIN tags t ON t.run_uuid = page.run_uuid
UNION ALL
SELECT 3, m.run_uuid, m.key, NULL, NULL, NULL, NULL, NULL, NULL, m.value, m.timestamp, m.step,
    NULL, NULL, m.is_nan
FROM page JOIN latest_metrics m ON m.run_uuid = page.run_uuid
UNION ALL
SELECT 4, run_uuid, input_uuid, name, digest, dataset_source_type, dataset_source, dataset_schema,
    dataset_profile, NULL, NULL, NULL, NULL, NULL, NULL
FROM dataset_inputs
UNION ALL
SELECT 5, d.run_uuid, d.input_uuid, t.name, t.value, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL
FROM dataset_inputs d JOIN input_tags t ON t.input_uuid = d.input_uuid
UNION ALL
SELECT 6, i.source_id, i.source_type, i.destination_id, NULL, NULL, NULL, NULL, NULL, NULL,
    i.step::bigint, NULL, NULL, NULL, NULL
FROM page JOIN inputs i ON i.source_id = page.run_uuid
    AND ((i.source_type = 'RUN_OUTPUT' AND i.destination_type = 'MODEL_OUTPUT')
        OR (i.source_type = 'RUN_INPUT' AND i.destination_type = 'MODEL_INPUT'))
"""


def _page_pg(conn: Connection, source: str, bind: dict[str, Any]) -> list[Run]:
    rows = fetch_raw(conn, _PAGE_PG.format(source=source), bind)
    infos: list[tuple[int, RunInfo]] = []
    run_params: dict[str, list[Param]] = defaultdict(list)
    run_tags: dict[str, list[Tag]] = defaultdict(list)
    run_metrics: dict[str, list[Metric]] = defaultdict(list)
    datasets_of: dict[str, list[tuple[str, Dataset]]] = defaultdict(list)
    input_tags_of: dict[str, list[Tag]] = defaultdict(list)
    model_inputs: dict[str, list[ModelIO]] = defaultdict(list)
    model_outputs: dict[str, list[ModelIO]] = defaultdict(list)
    for kind, run_id, t1, t2, t3, t4, t5, t6, t7, value, n1, n2, n3, n4, flag in rows:
        if kind == _PARAM:
            run_params[run_id].append(Param(t1, t2))
        elif kind == _TAG:
            run_tags[run_id].append(Tag(t1, t2 or ""))
        elif kind == _METRIC:
            run_metrics[run_id].append(Metric(t1, value, n1 or 0, n2 or 0, bool(flag)))
        elif kind == _RUN:
            infos.append((n1, RunInfo(run_id, t1, n2, t2, t3, n3, n4, t4, t5)))
        elif kind == _DATASET:
            datasets_of[run_id].append((t1, Dataset(t2, t3, t4, t5, t6, t7)))
        elif kind == _INPUT_TAG:
            input_tags_of[t1].append(Tag(t2, t3))
        elif t1 == "RUN_OUTPUT":
            model_outputs[run_id].append(ModelIO(t2, n1))
        else:
            model_inputs[run_id].append(ModelIO(t2))
    infos.sort(key=lambda pair: pair[0])
    by_key = _by_key
    return [
        Run(
            i,
            sorted(run_metrics.get(i.run_id, ()), key=by_key),
            sorted(run_params.get(i.run_id, ()), key=by_key),
            sorted(run_tags.get(i.run_id, ()), key=by_key),
            [
                DatasetInput(ds, input_tags_of.get(input_uuid, []))
                for input_uuid, ds in sorted(
                    datasets_of.get(i.run_id, ()), key=lambda d: (d[1].name, d[1].digest)
                )
            ],
            model_inputs.get(i.run_id, []),
            model_outputs.get(i.run_id, []),
        )
        for _, i in infos
    ]


def _by_key(item: Param | Tag | Metric) -> str:
    return item.key


def _load_generic(conn: Connection, run_ids: Sequence[str]) -> list[Run]:
    """Whole runs in the order given, with a fixed number of set-based queries per chunk."""
    found: dict[str, Run] = {}
    ids = list(dict.fromkeys(run_ids))
    for start in range(0, len(ids), _CHUNK):
        found.update(_load_chunk(conn, ids[start : start + _CHUNK]))
    return [found[i] for i in run_ids if i in found]


# Bound the size of IN lists: SQLite caps bound parameters per statement.
_CHUNK = 2000


def _load_chunk(conn: Connection, ids: list[str]) -> dict[str, Run]:
    infos = {
        row.run_uuid: run_store.info_from_row(row)
        for row in conn.execute(
            sa.select(*run_store.INFO_COLUMNS).where(in_list(conn, runs.c.run_uuid, ids))
        )
    }
    # Rows come back in (run, key) order, so each run's lists are already sorted by key.
    run_params: dict[str, list[Param]] = defaultdict(list)
    for run_id, key, value in conn.execute(
        sa.select(params.c.run_uuid, params.c.key, params.c.value)
        .where(in_list(conn, params.c.run_uuid, ids))
        .order_by(params.c.run_uuid, params.c.key)
    ).all():
        run_params[run_id].append(Param(key, value))
    run_tags: dict[str, list[Tag]] = defaultdict(list)
    for run_id, key, value in conn.execute(
        sa.select(tags.c.run_uuid, tags.c.key, tags.c.value)
        .where(in_list(conn, tags.c.run_uuid, ids))
        .order_by(tags.c.run_uuid, tags.c.key)
    ).all():
        run_tags[run_id].append(Tag(key, value or ""))
    run_metrics: dict[str, list[Metric]] = defaultdict(list)
    lm = latest_metrics.c
    for run_id, key, value, ts, step, nan in conn.execute(
        sa.select(lm.run_uuid, lm.key, lm.value, lm.timestamp, lm.step, lm.is_nan)
        .where(in_list(conn, lm.run_uuid, ids))
        .order_by(lm.run_uuid, lm.key)
    ).all():
        run_metrics[run_id].append(Metric(key, value, ts or 0, step or 0, bool(nan)))
    dataset_inputs = _load_dataset_inputs(conn, ids)
    model_inputs, model_outputs = _load_model_io(conn, ids)
    return {
        i: Run(
            info,
            run_metrics.get(i, []),
            run_params.get(i, []),
            run_tags.get(i, []),
            dataset_inputs.get(i, []),
            model_inputs.get(i, []),
            model_outputs.get(i, []),
        )
        for i, info in infos.items()
    }


def _load_dataset_inputs(conn: Connection, ids: list[str]) -> dict[str, list[DatasetInput]]:
    rows = conn.execute(
        sa.select(
            inputs.c.destination_id,
            inputs.c.input_uuid,
            datasets.c.name,
            datasets.c.digest,
            datasets.c.dataset_source_type,
            datasets.c.dataset_source,
            datasets.c.dataset_schema,
            datasets.c.dataset_profile,
        )
        .join(datasets, datasets.c.dataset_uuid == inputs.c.source_id)
        .where(
            inputs.c.destination_type == "RUN",
            inputs.c.source_type == "DATASET",
            in_list(conn, inputs.c.destination_id, ids),
        )
        .order_by(datasets.c.name, datasets.c.digest)
    ).all()
    if not rows:
        return {}
    tag_map: dict[str, list[Tag]] = defaultdict(list)
    for t in conn.execute(
        sa.select(input_tags.c.input_uuid, input_tags.c.name, input_tags.c.value).where(
            input_tags.c.input_uuid.in_([r.input_uuid for r in rows])
        )
    ):
        tag_map[t.input_uuid].append(Tag(t.name, t.value))
    result: dict[str, list[DatasetInput]] = defaultdict(list)
    for r in rows:
        dataset = Dataset(
            r.name,
            r.digest,
            r.dataset_source_type,
            r.dataset_source,
            r.dataset_schema,
            r.dataset_profile,
        )
        result[r.destination_id].append(DatasetInput(dataset, tag_map.get(r.input_uuid, [])))
    return result


def _load_model_io(
    conn: Connection, ids: list[str]
) -> tuple[dict[str, list[ModelIO]], dict[str, list[ModelIO]]]:
    """LoggedModel links: RUN_INPUT -> MODEL_INPUT and RUN_OUTPUT -> MODEL_OUTPUT rows."""
    model_inputs: dict[str, list[ModelIO]] = defaultdict(list)
    model_outputs: dict[str, list[ModelIO]] = defaultdict(list)
    rows = conn.execute(
        sa.select(
            inputs.c.source_type,
            inputs.c.source_id,
            inputs.c.destination_type,
            inputs.c.destination_id,
            inputs.c.step,
        ).where(
            sa.or_(
                sa.and_(
                    inputs.c.source_type == "RUN_OUTPUT",
                    in_list(conn, inputs.c.source_id, ids),
                    inputs.c.destination_type == "MODEL_OUTPUT",
                ),
                sa.and_(
                    inputs.c.source_type == "RUN_INPUT",
                    in_list(conn, inputs.c.source_id, ids),
                    inputs.c.destination_type == "MODEL_INPUT",
                ),
            )
        )
    ).all()
    for r in rows:
        if r.source_type == "RUN_OUTPUT":
            model_outputs[r.source_id].append(ModelIO(r.destination_id, r.step))
        else:
            model_inputs[r.source_id].append(ModelIO(r.destination_id))
    return model_inputs, model_outputs
