"""The scikit-learn wrappers: scikit-learn's own estimator checks, pipelines, grid search."""

from __future__ import annotations

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", reason="scikit-learn is in the 'test' extra")
from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import tinygrad_mlp as tm  # noqa: E402
from tinygrad_mlp.layers import Dense  # noqa: E402
from tinygrad_mlp.wrappers import (  # noqa: E402
    SKLearnClassifier,
    SKLearnRegressor,
    SKLearnTransformer,
)


def dynamic_model(X, y, loss, out_activation_function="softmax", layers=(10,),
                  learning_rate=0.001):  # fmt: skip
    """An MLP sized from the data, as Keras' own wrapper tests build it."""
    inp = tm.Input((X.shape[1],))
    hidden = inp
    for size in layers:
        hidden = Dense(size, activation="relu")(hidden)
    outputs = y.shape[1] if y.ndim > 1 else 1
    model = tm.Model(inp, Dense(outputs, activation=out_activation_function)(hidden))
    model.compile(loss=loss, optimizer=tm.optimizers.RMSprop(learning_rate))
    return model


# the checks Keras 3's own wrappers are expected to fail (keras/src/wrappers/sklearn_test.py)
# and these fail here too (one label by sample weight in some runs, as training is random);
# the two others on Keras' list (default-constructible parameters, a regression target)
# pass here, so they are checked as tests rather than allowed to fail
EXPECTED_FAILED_CHECKS = {
    "SKLearnClassifier": {
        "check_classifiers_one_label_sample_weights": "0 sample weight is not ignored",
        "check_classifiers_classes": "with small test cases not all classes are returned",
        "check_classifier_data_not_an_array": "this check assumes reproducibility in fit",
        "check_supervised_y_2d": "this check assumes reproducibility in fit",
        "check_fit_idempotent": "this check assumes reproducibility in fit",
        "check_classifiers_train": "decision_function can return probabilities and logits",
    },
    "SKLearnRegressor": {},
    "SKLearnTransformer": {},
}


@parametrize_with_checks(
    [
        SKLearnClassifier(
            model=dynamic_model,
            model_kwargs={"loss": "categorical_crossentropy", "layers": [20, 20, 20]},
            fit_kwargs={"epochs": 5},
        ),
        # the same estimators as Keras' own test of its wrappers, output activation included
        SKLearnRegressor(model=dynamic_model, model_kwargs={"loss": "mse"}),
        SKLearnTransformer(model=dynamic_model, model_kwargs={"loss": "mse"}),
    ],  # fmt: skip
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS[type(est).__name__],
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def classifier(**kwargs):
    return SKLearnClassifier(
        model=dynamic_model,
        model_kwargs={"loss": "categorical_crossentropy", "learning_rate": 0.01, **kwargs},
        fit_kwargs={"epochs": 15, "batch_size": 16},
    )


DATA = make_classification(n_samples=120, n_features=6, n_informative=4, random_state=0)


def test_pipeline_and_cross_validation():
    X, y = DATA
    tm.utils.set_random_seed(0)
    pipe = make_pipeline(StandardScaler(), classifier())
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.7


def grid():
    return GridSearchCV(
        classifier(),
        {"model_kwargs": [
            {"loss": "categorical_crossentropy", "learning_rate": lr, "layers": layers}
            for lr in (0.001, 0.03) for layers in ((4,), (16,))
        ], "fit_kwargs": [{"epochs": 5, "batch_size": 16}, {"epochs": 20, "batch_size": 16}]},
        cv=2,
    )  # fmt: skip


def test_grid_search_over_learning_rates_layer_sizes_and_epochs():
    X, y = DATA
    tm.utils.set_random_seed(1)
    search = grid().fit(X, y)
    assert len(search.cv_results_["params"]) == 8
    best = int(np.argmax(search.cv_results_["mean_test_score"]))
    assert search.best_params_ == search.cv_results_["params"][best]
    assert search.best_estimator_.score(X, y) > 0.7


def test_regressor_and_transformer_shapes():
    X, y = make_regression(n_samples=60, n_features=4, random_state=0)
    linear = {"loss": "mse", "out_activation_function": "linear"}
    reg = SKLearnRegressor(dynamic_model, model_kwargs=linear)
    assert reg.fit(X, y).predict(X).shape == (60,)
    enc = SKLearnTransformer(dynamic_model, model_kwargs=linear)
    assert enc.fit(X, y).transform(X).shape == (60, 1)


def test_a_compiled_model_is_cloned_and_refitted():
    X, y = DATA
    model = dynamic_model(X, np.zeros((1, 2)), "categorical_crossentropy")
    before = model.get_weights()
    clf = SKLearnClassifier(model, fit_kwargs={"epochs": 2}).fit(X, y)
    assert clf.model_ is not model
    for old, new in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)  # the given model is left as it was
    with pytest.raises(RuntimeError, match="compiled"):
        SKLearnClassifier(lambda X, y: tm.Sequential([Dense(2)])).fit(X, y)


def test_grid_search_on_a_dask_local_cluster_matches_one_core():
    """A real scheduler and two worker processes (Dask's LocalCluster), through joblib."""
    distributed = pytest.importorskip("dask.distributed", reason="dask[distributed] is in 'test'")
    joblib = pytest.importorskip("joblib")
    from tinygrad_mlp.wrappers import build_mlp

    X, y = DATA

    def search(n_jobs):
        return GridSearchCV(
            SKLearnClassifier(build_mlp, fit_kwargs={"epochs": 4, "batch_size": 16}),
            {"model_kwargs": [{"hidden": h, "learning_rate": lr}
                              for h in ((4,), (16,)) for lr in (0.001, 0.03)]},
            cv=2, n_jobs=n_jobs,
        )  # fmt: skip

    serial = search(1).fit(X, y)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:  # fmt: skip
        with distributed.Client(cluster) as client:
            with joblib.parallel_backend("dask"):
                spread = search(-1).fit(X, y)
            assert len(client.scheduler_info()["workers"]) == 2
    assert spread.best_params_ == serial.best_params_
    np.testing.assert_allclose(spread.cv_results_["mean_test_score"],
                               serial.cv_results_["mean_test_score"])  # fmt: skip
