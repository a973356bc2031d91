"""runyard: an experiment-tracking server that speaks MLflow's REST protocol."""

__version__ = "0.1.0"

# The MLflow release whose protocol and schema runyard reproduces; /version reports it
# because the official client compares it when choosing features.
MLFLOW_COMPAT_VERSION = "3.17.2"
