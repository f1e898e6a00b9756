"""Exercise 9: choose the learning rate, the layer sizes and the epochs by cross-validation,
on one core or on a Dask cluster.

    python examples/09_hyperparameter_search.py                 # a local cluster of 2 workers
    python examples/09_hyperparameter_search.py tcp://host:8786 # an existing cluster's scheduler

The search is scikit-learn's ``GridSearchCV`` over a ``SKLearnClassifier``. Run
inside ``joblib.parallel_backend("dask")`` its fits go to the cluster's workers
(separate processes, on this machine or others); the models travel pickled
through the library's safe archive. Each fit is seeded, so the cluster finds the
same best parameters as ``n_jobs=1``.
"""

from __future__ import annotations

import sys
import time

import joblib
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tinygrad_mlp.wrappers import SKLearnClassifier, build_mlp


def search(n_jobs: int | None) -> GridSearchCV:
    grid = {
        "sklearnclassifier__model_kwargs": [
            {"hidden": hidden, "learning_rate": lr}
            for hidden in ((16,), (64,))
            for lr in (1e-3, 1e-2)
        ],
        "sklearnclassifier__fit_kwargs": [{"epochs": e, "batch_size": 32} for e in (3, 10)],
    }
    pipe = make_pipeline(StandardScaler(), SKLearnClassifier(build_mlp))
    return GridSearchCV(pipe, grid, cv=3, n_jobs=n_jobs)


def main(scheduler: str | None = None) -> None:
    from dask.distributed import Client, LocalCluster

    x, y = load_digits(return_X_y=True)
    start = time.perf_counter()
    serial = search(n_jobs=1).fit(x, y)
    print(f"n_jobs=1: best {serial.best_params_} ({serial.best_score_:.3f}) "
          f"in {time.perf_counter() - start:.1f}s")  # fmt: skip
    cluster = None if scheduler else LocalCluster(n_workers=2, threads_per_worker=1)
    with Client(scheduler or cluster) as client:
        print(f"Dask cluster: {client.dashboard_link}")
        start = time.perf_counter()
        with joblib.parallel_backend("dask"):
            distributed = search(n_jobs=-1).fit(x, y)
        print(f"on Dask:  best {distributed.best_params_} ({distributed.best_score_:.3f}) "
              f"in {time.perf_counter() - start:.1f}s")  # fmt: skip
    if cluster is not None:
        cluster.close()
    print("same best parameters:", serial.best_params_ == distributed.best_params_)


if __name__ == "__main__":
    main(*sys.argv[1:2])
