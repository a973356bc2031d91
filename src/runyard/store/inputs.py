"""Run inputs and outputs: dataset links with their tags, and LoggedModel links."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runyard.domain.entities import DatasetInput, ModelIO
from runyard.store.engine import insert_ignore
from runyard.store.schema import datasets, input_tags, inputs


def log_datasets(
    conn: Connection, experiment_id: int, run_id: str, items: Sequence[DatasetInput]
) -> None:
    """Link datasets to a run; a dataset is stored once per experiment, a link once per run."""
    if not items:
        return
    wanted = {(i.dataset.name, i.dataset.digest): i for i in items}
    existing = {
        (r.name, r.digest): r.dataset_uuid
        for r in conn.execute(
            sa.select(datasets.c.name, datasets.c.digest, datasets.c.dataset_uuid).where(
                datasets.c.experiment_id == experiment_id,
                sa.tuple_(datasets.c.name, datasets.c.digest).in_(list(wanted)),
            )
        )
    }
    new_datasets = []
    for key, item in wanted.items():
        if key not in existing:
            existing[key] = uuid.uuid4().hex
            d = item.dataset
            new_datasets.append(
                {
                    "dataset_uuid": existing[key],
                    "experiment_id": experiment_id,
                    "name": d.name,
                    "digest": d.digest,
                    "dataset_source_type": d.source_type,
                    "dataset_source": d.source,
                    "dataset_schema": d.schema,
                    "dataset_profile": d.profile,
                }
            )
    insert_ignore(conn, datasets, new_datasets)
    linked = set(
        conn.execute(
            sa.select(inputs.c.source_id).where(
                inputs.c.source_type == "DATASET",
                inputs.c.destination_type == "RUN",
                inputs.c.destination_id == run_id,
                inputs.c.source_id.in_(list(existing.values())),
            )
        ).scalars()
    )
    new_inputs, new_tags = [], []
    for key, item in wanted.items():
        dataset_uuid = existing[key]
        if dataset_uuid in linked:
            continue
        input_uuid = uuid.uuid4().hex
        new_inputs.append(_link(input_uuid, "DATASET", dataset_uuid, "RUN", run_id))
        new_tags += [{"input_uuid": input_uuid, "name": t.key, "value": t.value} for t in item.tags]
    insert_ignore(conn, inputs, new_inputs)
    insert_ignore(conn, input_tags, new_tags)


def log_models(conn: Connection, run_id: str, models: Sequence[ModelIO], *, output: bool) -> None:
    """Record LoggedModels a run used (inputs) or produced (outputs, with a step)."""
    rows = [
        _link(
            uuid.uuid4().hex,
            "RUN_OUTPUT" if output else "RUN_INPUT",
            run_id,
            "MODEL_OUTPUT" if output else "MODEL_INPUT",
            m.model_id,
            m.step or 0,
        )
        for m in models
    ]
    insert_ignore(conn, inputs, rows)


def _link(
    input_uuid: str, src_type: str, src: str, dst_type: str, dst: str, step: int = 0
) -> dict[str, object]:
    return {
        "input_uuid": input_uuid,
        "source_type": src_type,
        "source_id": src,
        "destination_type": dst_type,
        "destination_id": dst,
        "step": step,
    }
