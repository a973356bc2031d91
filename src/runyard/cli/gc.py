"""``runyard gc``: permanently delete deleted runs and experiments (modelled on ``mlflow gc``)."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click

from runyard.cli.common import opened_database, settings_or_usage_error
from runyard.errors import MlflowError
from runyard.settings import Settings, SettingsError, normalize_db_uri

if TYPE_CHECKING:  # the service is imported late: keeps `runyard --help` fast
    from runyard.services.context import Ctx
    from runyard.services.gc import Plan, Report


def _older_than(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    from runyard.services.gc import parse_older_than

    if value is not None:
        try:
            parse_older_than(value)
        except MlflowError as exc:
            raise click.BadParameter(exc.message) from exc
    return value


def _id_list(_ctx: click.Context, _param: click.Parameter, value: str | None) -> list[str] | None:
    if value is None:
        return None
    ids = [part.strip() for part in value.split(",") if part.strip()]
    if not ids:
        raise click.BadParameter("give at least one id (comma-separated)")
    return ids


@click.command()
@click.option(
    "--older-than",
    callback=_older_than,
    help="Only what was deleted at least this long ago: 30d, 12h, 90m, 0s or combined (1d12h). "
    "Default: everything deleted.",
)
@click.option(
    "--experiment-ids",
    callback=_id_list,
    help="Comma-separated deleted experiments to purge (with all their runs); nothing else.",
)
@click.option(
    "--run-ids", callback=_id_list, help="Comma-separated deleted runs to purge; nothing else."
)
@click.option("--dry-run", is_flag=True, help="Print what would be purged and change nothing.")
@click.option("--backend-store-uri", help="Metadata database URI (as for `runyard server`).")
@click.option("--artifacts-destination", help="Where proxied artifacts are stored.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML config file.")
def gc(
    older_than: str | None,
    experiment_ids: list[str] | None,
    run_ids: list[str] | None,
    dry_run: bool,
    config_file: str | None,
    **flags: Any,
) -> None:
    """Permanently delete runs and experiments in the `deleted` lifecycle stage.

    Their metadata (metrics, params, tags, inputs, logged models, traces, ...) and artifacts
    go; a purged experiment's name can be used again. Without --experiment-ids or --run-ids,
    every deleted experiment and run (older than --older-than) is purged.
    """
    settings = settings_or_usage_error(flags, config_file)
    _require_existing_sqlite(settings)
    from runyard.services import gc as service

    with opened_database(settings) as ctx:
        plan = service.plan(ctx, older_than, experiment_ids, run_ids)
        if dry_run or plan.empty:
            _print_plan(plan, dry_run)
            return
        report = _collect(settings, ctx, plan)
    _print_report(report)
    if report.error:
        raise click.ClickException(f"gc stopped early: {report.error}")


def _require_existing_sqlite(settings: Settings) -> None:
    """A mistyped path must not quietly create (and then 'clean') an empty database."""
    from runyard.store.sqlite_guard import sqlite_path

    path = sqlite_path(normalize_db_uri(settings.backend_store_uri))
    if path is not None and not path.exists():
        raise click.UsageError(f"no database at {path} (check --backend-store-uri)")


def _collect(settings: Settings, ctx: Ctx, plan: Plan) -> Report:
    import anyio

    from runyard.app import open_artifact_store
    from runyard.services import gc as service

    try:
        store = open_artifact_store(settings)
    except (SettingsError, MlflowError) as exc:
        raise click.UsageError(f"artifacts destination: {exc}") from exc

    async def run() -> service.Report:
        await store.start()
        try:
            with _progress(plan.steps) as advance:
                return await service.collect(
                    dataclasses.replace(ctx, artifacts=store), plan, advance
                )
        finally:
            await store.aclose()

    return anyio.run(run)


@contextlib.contextmanager
def _progress(steps: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr when it is a terminal; nothing otherwise (logs, cron)."""
    if not sys.stderr.isatty():
        yield lambda _n: None
        return
    with click.progressbar(length=steps, label="Purging", file=sys.stderr) as bar:
        yield bar.update


def _print_plan(plan: Plan, dry_run: bool) -> None:
    if plan.empty:
        click.echo("Nothing to purge.")
        return
    click.echo(
        f"Would purge {_count(len(plan.experiments), 'experiment')} "
        f"(with {_count(sum(plan.experiment_runs.values()), 'run')}) and "
        f"{_count(len(plan.runs), 'other deleted run')}:"
    )
    for exp in plan.experiments:
        runs = _count(plan.experiment_runs[exp.experiment_id], "run")
        click.echo(f"  experiment {exp.experiment_id} {exp.name!r} ({runs})")
    for run_id in plan.runs:
        click.echo(f"  run {run_id}")
    if dry_run:
        click.echo("Dry run: nothing was deleted.")


def _print_report(report: Report) -> None:
    click.echo(
        f"Purged {_count(len(report.experiments), 'experiment')} "
        f"and {_count(len(report.runs), 'run')}."
    )
    for eid in report.experiments:
        click.echo(f"  experiment {eid}")
    for run_id in report.runs:
        click.echo(f"  run {run_id}")
    click.echo(f"Deleted {_count(len(report.artifacts_deleted), 'artifact location')}.")
    if report.artifacts_left:
        click.echo("Artifacts left in place:", err=True)
        for uri, why in report.artifacts_left.items():
            click.echo(f"  {uri}: {why}", err=True)
    if report.skipped:
        click.echo("Skipped (changed while gc ran):", err=True)
        for line in report.skipped:
            click.echo(f"  {line}", err=True)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
