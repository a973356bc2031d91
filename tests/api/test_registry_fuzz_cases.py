"""Registry requests the fuzz suite (tests/fuzz) answered with a 5xx, replayed one by one.

Each answer is pinned as runyard gives it since its fix; where MLflow fails the same way (a
500), the test says so.
"""

from __future__ import annotations

import uuid

import pytest

from tests.api.httpapi import REFERENCE, Api

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(REFERENCE == "mlflow", reason="runyard's answers to MLflow's 500s"),
]

INVALID = "INVALID_PARAMETER_VALUE"


@pytest.fixture
def model(api: Api) -> str:
    """A registered model with one version, from a run."""
    name = f"fz-{uuid.uuid4().hex[:12]}"
    run_id = api.run()
    api.ok(api.post("/registered-models/create", {"name": name}))
    body = {"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id}
    api.ok(api.post("/model-versions/create", body))
    return name


@pytest.mark.parametrize("suffix", ["²", "1²", "⑦"])
def test_source_version_of_digits_int_cannot_read(api: Api, model: str, suffix: str) -> None:
    """``models:/<name>/²``: ``str.isdigit`` says yes, ``int`` says no (a 500, as in MLflow).
    Only decimal digits make a version number; anything else is read as a stage."""
    response = api.post(
        "/model-versions/create", {"name": model, "source": f"models:/{model}/{suffix}"}
    )
    api.error(
        response,
        INVALID,
        f"Invalid Model Version stage: {suffix}. "
        "Value must be one of None, Staging, Production, Archived.",
    )


def test_source_version_of_other_decimal_digits(api: Api, model: str) -> None:
    """Decimal digits of other scripts are a number, as ``int`` reads them (``٣`` is 3)."""
    response = api.post("/model-versions/create", {"name": model, "source": f"models:/{model}/١"})
    created = api.ok(response)["model_version"]
    assert (created["version"], created["source"]) == ("2", f"models:/{model}/1")
