"""Exercise 8 — the course's Keras program, XOR with a hidden layer, softmax on real data.

The course's program runs unchanged (only the import prefix differs from
tensorflow.keras). Then XOR, which a single neuron cannot learn, with one hidden
layer. Then softmax classifiers on two small real data sets that ship with
scikit-learn: iris (3 flowers, 4 measurements) and digits (8x8 images, 10 classes).
"""

import sys

import numpy as np

from tinygrad_mlp.datasets import load_digits, load_iris, multi_label, xor
from tinygrad_mlp.layers import Dense
from tinygrad_mlp.models import Sequential
from tinygrad_mlp.optimizers import SGD, Adam
from tinygrad_mlp.preprocessing import StandardScaler, train_val_test_split


def softmax_classifier(x, y, hidden, epochs, seed=0):
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = train_val_test_split(
        x, y, stratify=True, seed=seed
    )
    scaler = StandardScaler().fit(x_train)
    model = Sequential([Dense(hidden, input_dim=x.shape[1], activation="relu")])
    model.add(Dense(int(y.max()) + 1, activation="softmax"))
    model.compile(
        loss="sparse_categorical_crossentropy", optimizer=Adam(0.01), metrics=["accuracy"]
    )
    model.fit(
        scaler.transform(x_train),
        y_train,
        epochs=epochs,
        batch_size=32,
        verbose=0,
        seed=seed,
        validation_data=(scaler.transform(x_val), y_val),
    )
    return model.evaluate(scaler.transform(x_test), y_test, verbose=0)[1]


def main(out_dir: str = "out", quick: bool = False) -> dict:
    np.random.seed(0)
    Inputs, Outputs = multi_label(seed=0)  # noqa: N806 - the course's names
    my_network = Sequential()
    my_network.add(Dense(20, input_dim=10, activation="relu"))
    my_network.add(Dense(4, activation="sigmoid"))
    my_network.compile(
        loss="binary_crossentropy", optimizer=SGD(0.1, 0.9), metrics=["binary_accuracy"]
    )
    my_history = my_network.fit(
        Inputs, Outputs, epochs=150 if quick else 1500, batch_size=250, verbose=0
    )
    print(my_history.history.keys())
    print(f"course program: binary accuracy {my_history.history['binary_accuracy'][-1]:.3f}")

    x, y = xor()
    model = Sequential([Dense(4, input_dim=2, activation="tanh"), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=SGD(0.5, 0.9), metrics=["accuracy"])
    model.fit(x, y, epochs=300, batch_size=4, verbose=0, seed=0)
    print(
        f"XOR with 4 hidden units: predictions {model.predict_classes(x, verbose=0).ravel()}, "
        f"targets {y.astype(int).ravel()}"
    )

    results = {}
    try:
        x, y = load_iris()
        results["iris"] = softmax_classifier(x, y, hidden=16, epochs=60)
        x, y = load_digits()
        results["digits"] = softmax_classifier(x, y, hidden=64, epochs=10 if quick else 30)
    except ImportError as exc:
        print(f"(no real data sets: {exc})")
    for name, acc in results.items():
        print(f"softmax classifier on {name}: test accuracy {acc:.3f}")
    return results


if __name__ == "__main__":
    main(*sys.argv[1:2])
