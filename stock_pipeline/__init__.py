"""stock_pipeline: a Dagster code location for leak-free LSTM market forecasts.

The Keras backend must be chosen before anything imports keras; without it Keras
looks for TensorFlow, which this project does not install.

JAX's persistent compilation cache is switched on here too (before jax is imported,
which reads these variables). Every new Keras model is compiled afresh, and on CPU
compiling the LSTM's training step costs far more than a nightly warm-start update
itself; with the cache, a model of a shape seen before (another ticker, another fold,
the next night in a new process) loads its compiled program from disk instead.
Set ``JAX_COMPILATION_CACHE_DIR`` to move it; an empty value keeps the default
(``$XDG_CACHE_HOME/stock_pipeline/jax``, else ``~/.cache/stock_pipeline/jax``), and
``STOCK_PIPELINE_JAX_CACHE=off`` switches it off. The cache is trusted code: keep it
in a directory only you can write.
"""

import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")


def _default_jax_cache() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "stock_pipeline" / "jax")


if os.environ.get("STOCK_PIPELINE_JAX_CACHE", "").lower() not in ("off", "0", "false", "no"):
    if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        os.environ["JAX_COMPILATION_CACHE_DIR"] = _default_jax_cache()
    # cache every program: the small predict programs compile in under JAX's 1 s default
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")

__version__ = "0.1.0"
