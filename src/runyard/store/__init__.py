"""All SQL lives here: SQLAlchemy Core over MLflow's own table layout."""
