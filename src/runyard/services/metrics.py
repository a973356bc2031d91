"""Metric history reads: one run, several runs, and server-side sampled intervals."""

from __future__ import annotations

from collections.abc import Sequence

from runyard.domain import search, validation
from runyard.domain.entities import Metric, Page
from runyard.errors import InvalidParameterValue
from runyard.services.context import Ctx
from runyard.store import metrics as store
from runyard.store.engine import Connection


def get_history(
    ctx: Ctx, run_id: str, key: str, max_results: int | None, page_token: str | None
) -> Page[Metric]:
    offset = search.decode_page_token(page_token)
    limit = None if max_results is None else max_results + 1
    found = ctx.db.read(lambda conn: store.history(conn, run_id, key, offset, limit))
    if max_results is None:
        return Page(found)
    return search.page_of(found, offset, max_results)


def _check_run_ids(run_ids: Sequence[str]) -> None:
    if not run_ids:
        raise InvalidParameterValue(
            "GetMetricHistoryBulk request must specify at least one run_id."
        )
    if len(run_ids) > validation.MAX_RUNS_GET_METRIC_HISTORY_BULK:
        raise InvalidParameterValue(
            "GetMetricHistoryBulk request cannot specify more than "
            f"{validation.MAX_RUNS_GET_METRIC_HISTORY_BULK} run_ids. Received "
            f"{len(run_ids)} run_ids."
        )


def get_history_bulk(ctx: Ctx, run_ids: Sequence[str], key: str, max_results: int) -> list[Metric]:
    _check_run_ids(run_ids)
    limit = min(max_results, validation.MAX_RESULTS_GET_METRIC_HISTORY)
    return ctx.db.read(lambda conn: store.history_bulk(conn, run_ids, key, limit))


def get_history_bulk_interval(
    ctx: Ctx,
    run_ids: Sequence[str],
    key: str,
    start_step: int | None,
    end_step: int | None,
    max_results: int | None,
) -> list[Metric]:
    limit = validation.MAX_RESULTS_BULK_INTERVAL if max_results is None else max_results
    if not 1 <= limit <= validation.MAX_RESULTS_BULK_INTERVAL:
        raise InvalidParameterValue(
            f"max_results must be between 1 and {validation.MAX_RESULTS_BULK_INTERVAL}. "
            "See the API docs for more information about request parameters."
        )
    steps = None
    if start_step is not None and end_step is not None:
        if start_step > end_step:
            raise InvalidParameterValue(
                "end_step must be greater than start_step. "
                f"Found start_step={start_step} and end_step={end_step}."
            )
        steps = (start_step, end_step)
    elif start_step is not None or end_step is not None:
        raise InvalidParameterValue(
            "If either start step or end step are specified, both must be specified."
        )

    def tx(conn: Connection) -> list[Metric]:
        out: list[Metric] = []
        for run_id in run_ids:
            out += store.sampled(conn, run_id, key, limit, steps)
        return out

    return ctx.db.read(tx)
