"""Exercise 10: ship the circle network outside Python's training stack, with ONNX.

    python examples/10_onnx_serving.py [out_dir]

Train the course's circle MLP, write it with Keras 3's call
``model.export("circle.onnx", format="onnx")``, then serve it with onnxruntime
(which knows nothing of this library) and compare its answers with ``predict``.
"""

from __future__ import annotations

import os
import sys

import numpy as np


def main(out_dir: str = "tinygrad_mlp_demo") -> float:
    import onnxruntime as ort

    import tinygrad_mlp as tm
    from tinygrad_mlp.layers import Dense

    os.makedirs(out_dir, exist_ok=True)
    x, y = tm.datasets.circle(n=500, seed=0)
    model = tm.Sequential([tm.Input((2,)), Dense(16, activation="tanh"),
                           Dense(16, activation="tanh"), Dense(1, activation="sigmoid")],
                          name="circle")  # fmt: skip
    model.compile(optimizer=tm.optimizers.Adam(0.01), loss="binary_crossentropy")
    model.fit(x, y, epochs=30, batch_size=32, verbose=0)
    path = os.path.join(out_dir, "circle.onnx")
    model.export(path, format="onnx")

    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: x.astype(np.float32)}
    served = session.run(None, feed)[0]
    gap = float(np.abs(served - model.predict(x, verbose=0)).max())
    accuracy = float(((served > 0.5) == (np.reshape(y, (-1, 1)) > 0.5)).mean())
    print(f"onnxruntime {ort.__version__} serves {path}: accuracy {accuracy:.3f}, "
          f"largest difference from predict {gap:.1e}")  # fmt: skip
    return gap


if __name__ == "__main__":
    main(*sys.argv[1:2])
