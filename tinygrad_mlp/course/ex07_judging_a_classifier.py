"""Exercise 7 — judging a classifier: accuracy, confusion matrix, feature importance.

On the circle with two extra inputs that are pure noise: a good explanation
ranks them last.
"""

import os
import sys

import numpy as np

from tinygrad_mlp.datasets import circle
from tinygrad_mlp.explain import integrated_gradients, permutation_importance
from tinygrad_mlp.layers import Dense
from tinygrad_mlp.metrics import confusion_matrix
from tinygrad_mlp.models import Sequential
from tinygrad_mlp.optimizers import Adam
from tinygrad_mlp.preprocessing import StandardScaler, train_val_test_split


def main(out_dir: str = "out", quick: bool = False) -> np.ndarray:
    os.makedirs(out_dir, exist_ok=True)
    x, y = circle(n=1500, seed=2)
    rng = np.random.default_rng(0)
    x = np.hstack([x, rng.normal(size=(len(x), 2)).astype(np.float32)])  # two noise inputs
    names = ["x", "y", "noise_1", "noise_2"]
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = train_val_test_split(x, y, seed=0)
    scaler = StandardScaler().fit(x_train)
    x_train, x_val, x_test = (scaler.transform(a) for a in (x_train, x_val, x_test))

    model = Sequential(
        [
            Dense(16, input_dim=4, activation="relu"),
            Dense(16, activation="relu"),
            Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(loss="binary_crossentropy", optimizer=Adam(0.01), metrics=["accuracy"])
    model.fit(
        x_train,
        y_train,
        epochs=15 if quick else 60,
        batch_size=32,
        verbose=0,
        validation_data=(x_val, y_val),
    )

    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    predicted = model.predict_classes(x_test, verbose=0).ravel()
    print(f"test accuracy {acc:.3f}")
    print("confusion matrix (rows: true class, columns: predicted):")
    matrix = confusion_matrix(y_test, predicted)
    print(matrix)
    from tinygrad_mlp.plotting import plot_confusion_matrix

    path = os.path.join(out_dir, "confusion_matrix.png")
    plot_confusion_matrix(matrix, labels=["outside", "inside"], to_file=path)
    print(f"the confusion matrix as a picture: {path}")

    ig = np.abs(integrated_gradients(model, x_test[:200])).mean(axis=0)
    perm = permutation_importance(model, x_test, y_test, n_repeats=3, seed=0)["importances_mean"]
    for name, a, p in zip(names, ig, perm, strict=True):
        print(f"  {name:8s} integrated gradients {a:.4f}   permutation {p:.4f}")
    from tinygrad_mlp.plotting import plot_feature_importance

    plot_feature_importance(
        ig, feature_names=names, to_file=os.path.join(out_dir, "feature_importance.png")
    )

    # the course's SHAP code, as it runs with the shap package
    import tinygrad_mlp.explain as sh

    explainer = sh.DeepExplainer(model, x_train[:100])
    shap_values = explainer.shap_values(x_test[:200])
    sh.initjs()
    path = os.path.join(out_dir, "shap_summary.png")
    sh.summary_plot(shap_values, x_test[:200], feature_names=names, to_file=path)
    mean_abs = np.abs(shap_values).mean(axis=0)
    print("mean |SHAP value| (DeepExplainer, 100 background rows): " + ", ".join(
        f"{n} {v:.3f}" for n, v in zip(names, mean_abs, strict=True)))  # fmt: skip
    print(f"SHAP summary (beeswarm): {path}")
    return ig


if __name__ == "__main__":
    main(*sys.argv[1:2])
