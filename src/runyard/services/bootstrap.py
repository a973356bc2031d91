"""Opening the metadata store at start-up: create an empty one, refuse an unknown schema."""

from __future__ import annotations

from runyard.services.context import Ctx
from runyard.store import migrate
from runyard.store.engine import Database


def open_store(uri: str, artifact_root: str, pool_size: int = 5, max_overflow: int = 5) -> Ctx:
    db = Database(uri, pool_size, max_overflow)
    try:
        if migrate.current(db.engine) is None and migrate.is_empty(db.engine):
            migrate.upgrade(db.engine)  # a brand-new database, as MLflow initialises one
        migrate.check(db.engine)
        db.write(lambda conn: migrate.ensure_default_experiment(conn, artifact_root))
    except BaseException:
        db.dispose()
        raise
    return Ctx(db=db, default_artifact_root=artifact_root)
