"""The CUDA training path: the project's own ``build_model`` and ``fit`` on whatever device
JAX finds, against the same work on the CPU in the same process.

    python -m benchmarks.gpu_training [--repeats 3] [--windows 4400]

Needs only numpy, pandas, pydantic, PyYAML, jax and keras (no Dagster, no warehouse), so
it runs on a lent GPU machine with a few carried wheels. Data: a planted AR(1) series
(phi = 0.3), ``--windows`` training windows (4,400 is ^GSPC's whole history). Figures, per
device and model: a fit of a fixed 10 epochs (no early stop; the first run includes XLA
compilation, reported apart), samples/s, and the skill of the fitted model on 500 held-out
windows, so a GPU result that differs from the CPU's is visible. Models: the default
(1 x 16, T = 20) and the previous release's 2 x 64, T = 60. One JSON line per model.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

EPOCHS = 10


def series(windows: int, window: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = windows + window + 500
    r = np.zeros(n)
    for t in range(1, n):
        r[t] = 0.3 * r[t - 1] + rng.normal()
    x = np.lib.stride_tricks.sliding_window_view(r[:-1], window)[:, :, None].astype("float32")
    return x, r[window:].astype("float32")


def fit_on(device, units: tuple[int, ...], window: int, windows: int, repeats: int) -> dict:
    from stock_pipeline.backend import jax
    from stock_pipeline.forecasting import network
    from stock_pipeline.settings import ModelSettings

    settings = ModelSettings(lstm_units=units, epochs=EPOCHS, patience=EPOCHS + 1)
    x, y = series(windows, window)
    cut = len(x) - 500
    seconds, skill = [], 0.0
    with jax.default_device(device):
        for _ in range(repeats + 1):  # the first includes compilation
            net = network.build_model(window, 1, settings, "return")
            started = time.perf_counter()
            network.fit(net, x[:cut], y[:cut], settings, horizon=1, epochs=EPOCHS)
            seconds.append(time.perf_counter() - started)
            predicted = network.predict(net, x[cut:])
            skill = 1 - float(np.sqrt(np.mean((predicted - y[cut:]) ** 2) / np.mean(y[cut:] ** 2)))
    median = statistics.median(seconds[1:])
    return {
        "device": str(device),
        "model": f"{'x'.join(map(str, units))} LSTM, T={window}",
        "first_fit_s": round(seconds[0], 2),
        "median_fit_s": round(median, 3),
        "runs_s": [round(s, 3) for s in seconds[1:]],
        "samples_per_s": round(cut * 0.8 * EPOCHS / median),
        "heldout_skill": round(skill, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--windows", type=int, default=4400)
    args = parser.parse_args()
    from stock_pipeline.backend import jax, keras  # the backend sets KERAS_BACKEND first

    # One device per process: Keras picks the cuDNN LSTM kernel when JAX's default backend
    # is a GPU, and that kernel cannot run on a CPU device of the same process; compare
    # with ``JAX_PLATFORMS=cpu python -m benchmarks.gpu_training`` run beside it.
    device = jax.devices()[0]
    print(json.dumps({"jax": jax.__version__, "keras": keras.__version__}), flush=True)
    for units, window in (((16,), 20), ((64, 64), 60)):
        print(json.dumps(fit_on(device, units, window, args.windows, args.repeats)), flush=True)


if __name__ == "__main__":
    main()
