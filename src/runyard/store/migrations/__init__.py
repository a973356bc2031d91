"""runyard's alembic environment; loaded by alembic from this directory, not imported."""
