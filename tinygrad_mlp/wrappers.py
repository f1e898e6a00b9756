"""scikit-learn estimators around models, with Keras 3's ``keras.wrappers`` signature.

``SKLearnClassifier``, ``SKLearnRegressor`` and ``SKLearnTransformer`` take
``model``: a compiled model, or a callable ``model(X=..., y=..., **model_kwargs)``
that builds and compiles one (it sees the data, so it can size the input and
output layers); ``fit_kwargs`` go to ``model.fit``. They work in ``Pipeline``,
``cross_val_score`` and ``GridSearchCV`` (the callable's arguments are tuned as
``model_kwargs``, or wrap them in ``functools.partial``)::

    def build(X, y, hidden=16, learning_rate=0.01):
        model = Sequential([Input((X.shape[1],)), Dense(hidden, activation="relu"),
                            Dense(y.shape[1], activation="softmax")])
        model.compile(optimizers.Adam(learning_rate), "categorical_crossentropy")
        return model

    clf = SKLearnClassifier(build, fit_kwargs={"epochs": 20})

A classifier one-hot encodes the labels (so the model ends in a softmax over
``len(classes_)`` outputs) and predicts ``classes_[argmax]``. Unlike Keras, a
wrapper's ``fit`` is silent unless ``fit_kwargs`` ask for ``verbose``. Fitted
estimators pickle through the model's safe archive, so they cross process
boundaries (joblib, Dask) intact.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
except ImportError as e:  # pragma: no cover - scikit-learn is an optional extra
    raise ImportError(
        "tinygrad_mlp.wrappers needs scikit-learn: pip install 'tinygrad_mlp[data]'"
    ) from e

__all__ = ["SKLearnClassifier", "SKLearnRegressor", "SKLearnTransformer", "build_mlp"]


def _validate(estimator: Any, X: Any, y: Any = None, reset: bool = True) -> Any:
    from sklearn.utils.validation import validate_data

    if y is None:
        return validate_data(estimator, X, reset=reset, dtype="numeric")
    # as Keras' wrappers: one target column (a column vector is raveled with a warning)
    return validate_data(estimator, X, y, reset=reset, dtype="numeric",
                         y_numeric=not isinstance(estimator, ClassifierMixin))  # fmt: skip


class _Base(BaseEstimator):
    def __init__(
        self,
        model: Any,
        warm_start: bool = False,
        model_kwargs: dict | None = None,
        fit_kwargs: dict | None = None,
    ) -> None:
        self.model = model
        self.warm_start = warm_start
        self.model_kwargs = model_kwargs
        self.fit_kwargs = fit_kwargs

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.non_deterministic = True
        return tags

    def _make_model(self, X: np.ndarray, y: np.ndarray) -> Any:
        from tinygrad_mlp.models import Model, clone_model

        if self.warm_start and hasattr(self, "model_"):
            return self.model_
        if isinstance(self.model, Model):
            model = clone_model(self.model)
            config = self.model.get_compile_config()
            if config is None:
                raise RuntimeError(
                    "Given model needs to be compiled, and have a loss and an optimizer."
                )
            from tinygrad_mlp import optimizers

            fresh = optimizers.deserialize(optimizers.serialize(config["optimizer"]))
            model.compile(**{**config, "optimizer": fresh})
        elif callable(self.model):
            model = self.model(X=X, y=y, **(self.model_kwargs or {}))
        else:
            raise TypeError(
                f"model must be a compiled Model or a callable returning one, received "
                f"{type(self.model).__name__}"
            )
        if getattr(model, "optimizer", None) is None or not (model.get_compile_config() or {}).get(
            "loss"
        ):
            raise RuntimeError(
                "Given model needs to be compiled, and have a loss and an optimizer."
            )
        return model

    def fit(self, X: Any, y: Any, **kwargs: Any) -> _Base:
        """Build (or reuse, with ``warm_start``) the model and train it on ``X``, ``y``."""
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        X, y = _validate(self, X, y, reset=True)
        X = X.astype(np.float32, copy=False)
        target = self._encode(y, reset=True)
        model = self._make_model(X, target)
        options = {"verbose": 0, **(self.fit_kwargs or {}), **kwargs}
        self.history_ = model.fit(X, target, **options).history
        self.model_ = model
        return self

    def _raw_predict(self, X: Any) -> np.ndarray:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        X = _validate(self, X, reset=False).astype(np.float32, copy=False)
        return self.model_.predict(X, verbose=0)

    def predict(self, X: Any) -> np.ndarray:
        return self._decode(self._raw_predict(X))

    # regressors and transformers: a 1-D target is trained as one output column
    def _encode(self, y: np.ndarray, reset: bool) -> np.ndarray:
        if reset:
            self._y_ndim = y.ndim
        return (y.reshape(-1, 1) if y.ndim == 1 else y).astype(np.float32)

    def _decode(self, out: np.ndarray) -> np.ndarray:
        return out[:, 0] if self._y_ndim == 1 and out.ndim == 2 and out.shape[1] == 1 else out

    @property
    def epoch_(self) -> int:
        return len(getattr(self, "history_", {}).get("loss", []))


class SKLearnClassifier(ClassifierMixin, _Base):
    """A scikit-learn classifier: labels one-hot encoded for the model's softmax outputs."""

    def _encode(self, y: np.ndarray, reset: bool) -> np.ndarray:
        from sklearn.utils.multiclass import type_of_target

        kind = type_of_target(y, input_name="y", raise_unknown=True)
        if kind not in ("binary", "multiclass"):
            raise ValueError(
                f"Only binary and multiclass target types are supported. Target type: {kind}"
            )
        y = y.reshape(-1) if y.ndim == 2 else y
        if reset:
            self.classes_ = np.unique(y)
            if len(self.classes_) == 1:
                raise ValueError("Classifier can't train when only one class is present.")
        index = np.searchsorted(self.classes_, y)
        onehot = np.zeros((len(y), len(self.classes_)), dtype=np.float32)
        onehot[np.arange(len(y)), index] = 1.0
        return onehot

    def predict(self, X: Any) -> np.ndarray:
        """``classes_[argmax]`` of the model's outputs."""
        raw = self._raw_predict(X)  # checks that the estimator is fitted first
        return self.classes_[np.argmax(raw, axis=1)]

    def predict_proba(self, X: Any) -> np.ndarray:
        """The model's outputs (class probabilities for a softmax model)."""
        return self._raw_predict(X)

    def decision_function(self, X: Any) -> np.ndarray:
        """The model's raw outputs, as Keras' wrapper gives them; for two classes the second
        class' column (scikit-learn's convention, ranked as ``predict_proba[:, 1]``)."""
        raw = self._raw_predict(X)
        return raw[:, 1] if raw.ndim == 2 and raw.shape[1] == 2 else raw

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = True
        return tags


class SKLearnRegressor(RegressorMixin, _Base):
    """A scikit-learn regressor: ``predict`` is the model's output (1-D for a 1-D target)."""

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        return tags


class SKLearnTransformer(TransformerMixin, _Base):
    """A scikit-learn transformer: trained on ``(X, y)``, ``transform(X)`` is the model's output
    (an encoder's features, say)."""

    def transform(self, X: Any) -> np.ndarray:
        return self._raw_predict(X)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []  # the model computes in float32
        return tags


def build_mlp(
    X: np.ndarray,
    y: np.ndarray,
    hidden: tuple[int, ...] | list[int] = (16,),
    activation: str = "relu",
    output_activation: str | None = None,
    loss: str | None = None,
    optimizer: str = "adam",
    learning_rate: float = 0.001,
    seed: int | None = 0,
) -> Any:
    """A compiled MLP sized from the data, for the wrappers' ``model`` argument.

    ``X.shape[1]`` inputs, ``hidden`` layers, and one output per target column
    (per class after the classifier's one-hot encoding): softmax and categorical
    cross-entropy for one-hot targets, else linear outputs and mean squared error.
    ``seed`` fixes the initial weights and the shuffling, so a fit repeats exactly
    in any process (a grid search gives the same scores on one core or a cluster).
    """
    from tinygrad_mlp import layers, models, optimizers, utils

    if seed is not None:
        utils.set_random_seed(seed)
    outputs = y.shape[1] if y.ndim > 1 else 1
    onehot = y.ndim == 2 and outputs > 1 and set(np.unique(y)) <= {0.0, 1.0}
    inp = layers.Input((X.shape[1],))
    h = inp
    for size in hidden:
        h = layers.Dense(int(size), activation=activation)(h)
    out_act = output_activation or ("softmax" if onehot else "linear")
    model = models.Model(inp, layers.Dense(outputs, activation=out_act)(h))
    opt = optimizers.get(optimizer)
    opt.learning_rate = learning_rate
    model.compile(optimizer=opt, loss=loss or ("categorical_crossentropy" if onehot else "mse"))
    return model
