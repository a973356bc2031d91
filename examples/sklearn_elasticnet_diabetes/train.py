"""Train an ElasticNet on scikit-learn's diabetes data set and log it to the tracking server.

Run it as an MLflow project against runyard:

    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 \
        mlflow run examples/sklearn_elasticnet_diabetes -P alpha=0.5 --env-manager local
"""

from __future__ import annotations

import argparse

import mlflow
import mlflow.sklearn
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--l1-ratio", type=float, default=0.1)
    args = parser.parse_args()

    features, target = load_diabetes(return_X_y=True, as_frame=True)
    train_x, test_x, train_y, test_y = train_test_split(
        features, target, test_size=0.25, random_state=42
    )

    # `mlflow run` has already started the run; this attaches to it.
    with mlflow.start_run():
        model = ElasticNet(alpha=args.alpha, l1_ratio=args.l1_ratio, random_state=42)
        model.fit(train_x, train_y)
        predicted = model.predict(test_x)

        rmse = float(np.sqrt(mean_squared_error(test_y, predicted)))
        mae = float(mean_absolute_error(test_y, predicted))
        r2 = float(r2_score(test_y, predicted))
        print(
            f"ElasticNet(alpha={args.alpha}, l1_ratio={args.l1_ratio}): "
            f"rmse={rmse:.3f} mae={mae:.3f} r2={r2:.3f}"
        )

        mlflow.log_params({"alpha": args.alpha, "l1_ratio": args.l1_ratio})
        mlflow.log_metrics({"rmse": rmse, "mae": mae, "r2": r2})
        mlflow.sklearn.log_model(model, name="model", input_example=test_x.iloc[:5])


if __name__ == "__main__":
    main()
