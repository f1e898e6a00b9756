"""Exercise 5 — the Keras way: the same problems with Sequential and Dense.

1. The linear perceptron: one Dense unit with a sigmoid learns x + y >= 100.
2. The circle perceptron: the same model fails on the circle.
3. Hidden layers until the circle is learnt.
Then check the structure (summary, plot_model), read the weights and biases,
save the model and load it back.
"""

import os
import sys

import numpy as np

from tinygrad_mlp.datasets import circle, linear
from tinygrad_mlp.layers import Dense
from tinygrad_mlp.models import Sequential, load_model
from tinygrad_mlp.optimizers import SGD
from tinygrad_mlp.preprocessing import StandardScaler


def perceptron() -> Sequential:
    model = Sequential([Dense(1, input_dim=2, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=SGD(0.5), metrics=["binary_accuracy"])
    return model


def main(out_dir: str = "out", quick: bool = False) -> float:
    os.makedirs(out_dir, exist_ok=True)
    epochs = 40 if quick else 150

    x, y = linear(n=250, seed=0)
    x = StandardScaler().fit_transform(x)
    model = perceptron()
    history = model.fit(x, y, epochs=epochs, batch_size=25, verbose=0)
    print(f"1. linear perceptron: accuracy {history.history['binary_accuracy'][-1]:.3f}")

    xc, yc = circle(n=1000, seed=0)
    xc = StandardScaler().fit_transform(xc)
    model = perceptron()
    history = model.fit(xc, yc, epochs=epochs, batch_size=25, verbose=0)
    print(f"2. circle perceptron: accuracy {history.history['binary_accuracy'][-1]:.3f} (a line)")

    model = Sequential(name="circle_mlp")
    model.add(Dense(16, input_dim=2, activation="tanh"))
    model.add(Dense(16, activation="tanh"))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer=SGD(0.1, 0.9), metrics=["binary_accuracy"])
    print("3. hidden layers:")
    # the first epochs with Keras' progress output, then the rest quietly
    first = model.fit(xc, yc, epochs=3, batch_size=32, validation_split=0.2, verbose=1)
    history = model.fit(
        xc, yc, epochs=epochs, initial_epoch=3, batch_size=32, validation_split=0.2, verbose=0
    )
    # the curves show every epoch, the three the console printed included
    every_epoch = {k: first.history[k] + history.history[k] for k in history.history}
    val_acc = history.history["val_binary_accuracy"][-1]
    print(f"   validation accuracy {val_acc:.3f}")

    model.summary()
    from tinygrad_mlp.utils import plot_model

    plot_model(
        model,
        to_file=os.path.join(out_dir, "circle_model.png"),
        show_shapes=True,
        show_layer_activations=True,
    )
    from tinygrad_mlp.plotting import plot_decision_boundary, plot_history

    plot_history(every_epoch, to_file=os.path.join(out_dir, "circle_history.png"))
    plot_decision_boundary(model, xc, yc, to_file=os.path.join(out_dir, "circle_boundary.png"))
    kernel, bias = model.layers[0].get_weights()
    print(
        f"first layer: kernel {kernel.shape}, bias {bias.shape}; bias[:4] = {np.round(bias[:4], 3)}"
    )

    from tinygrad_mlp import backprop

    replay = Sequential([Dense(8, input_dim=2, activation="tanh"), Dense(1, activation="sigmoid")])
    replay.compile(loss="binary_crossentropy", optimizer=SGD(0.1, 0.9))
    page = backprop.training_replay(
        replay,
        xc,
        yc,
        epochs=10 if quick else 40,
        to_file=os.path.join(out_dir, "circle_training.html"),
    )
    print(f"a page replaying a small network's training, epoch by epoch (open it offline): {page}")

    path = os.path.join(out_dir, "circle_mlp.tgm")
    model.save(path)
    again = load_model(path)
    same = np.array_equal(model.predict(xc, verbose=0), again.predict(xc, verbose=0))
    print(f"saved to {path} and loaded back: identical predictions = {same}")
    return val_acc


if __name__ == "__main__":
    main(*sys.argv[1:2])
