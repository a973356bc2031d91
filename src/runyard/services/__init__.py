"""Use cases, one function per MLflow RPC, each one transaction. No HTTP, no SQL."""
