"""HTTP: decode requests, call a service, render MLflow's JSON. Nothing else."""
