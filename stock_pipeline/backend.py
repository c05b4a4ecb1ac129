"""Keras on JAX, set up in one place. Every module that uses keras or jax takes them from
here (``from stock_pipeline.backend import keras``), so importing it is what prepares the
process, in the order the libraries need:

1. ``KERAS_BACKEND=jax`` (if not set) before keras is imported: without it Keras looks
   for TensorFlow, which this project does not install. Keras reads the backend only from
   the environment (or a ``keras.json``), so this is the one variable the product sets.
2. The C allocator tuned for training (``forecasting/allocator.py``) before JAX starts
   its threads.
3. jax and keras imported, and the default layer seeds made per thread (``layer_seeds``,
   a patch of a private Keras module: ``stock_pipeline/_keras_private.py``).

JAX's persistent compilation cache is not switched on by the import: the setting
``compute.jax_cache_dir`` says where it lives (or that there is none), and ``configure``
applies it. The code location's compute engine, the pooled model and each Dask worker
call it before their first compile. Every new Keras model is compiled afresh, and on CPU
compiling a training step costs far more than a nightly warm-start update itself; with
the cache, a model of a shape seen before (another ticker, another fold, the next night in
a new process) loads its compiled program from disk instead. The cache is trusted code:
keep it in a directory only you can write.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stock_pipeline.forecasting.allocator import keep_freed_memory
from stock_pipeline.settings import ComputeSettings

os.environ.setdefault("KERAS_BACKEND", "jax")
keep_freed_memory()  # before JAX starts its threads: see allocator's docstring

import jax  # noqa: E402  (after the two lines above, which is the point of this module)
import keras  # noqa: E402

from stock_pipeline._keras_private import seed_generator  # noqa: E402

__all__ = ["configure", "jax", "keras", "layer_seeds", "use_compilation_cache"]


def use_compilation_cache(folder: Path | None) -> None:
    """Keep compiled programs in ``folder`` (None: no persistent cache). JAX opens its
    cache at the first compile that finds a folder set, so call this before it."""
    jax.config.update("jax_compilation_cache_dir", None if folder is None else str(folder))
    # cache every program: the small predict programs compile in under JAX's 1 s default
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def configure(settings: ComputeSettings) -> None:
    """Apply the backend's settings (the compilation cache) to this process."""
    use_compilation_cache(settings.jax_cache_dir)


# Reproducible in any thread. Keras draws its randomness from two process-wide generators
# that ``keras.utils.set_random_seed`` seeds: Python's ``random`` (the seed of every
# initializer and seed generator a layer makes without one) and NumPy's (the permutation
# of each epoch in ``fit(shuffle=True)``). Other threads of the process draw from them
# too: on a Dask worker the event loop samples Python's for ``sizeof`` of every heartbeat
# and NumPy's for ``sizeof`` of a pandas result it sends, at times of their own, and a
# draw between the seeding and Keras' own draws changed a fold model's initial weights or
# batches (the cluster run's forecasts then differed from the in-process run's). So the
# layers draw their seeds from a generator of this thread's own (``layer_seeds``) and the
# training batches are shuffled by one of the fit's own (``network.ShuffledBatches``): the
# same sequences the seeded process-wide generators give when nothing else draws from
# them, so the models are those trained before, whatever else runs in the process.


class _LayerSeeds:
    """Stands in for the ``random`` module in ``keras.src.random.seed_generator``, whose
    ``make_default_seed`` (``random.randint``) seeds every initializer and seed generator
    made without a seed: inside ``layer_seeds`` from a generator of this thread's own,
    elsewhere from the process-wide one, as before."""

    def __init__(self) -> None:
        self.local = threading.local()

    def randint(self, a: int, b: int) -> int:
        return (getattr(self.local, "rng", None) or random).randint(a, b)

    def __getattr__(self, name: str):
        return getattr(random, name)


def _install_layer_seeds() -> _LayerSeeds:
    installed = getattr(seed_generator, "python_random", None)
    if installed is random:
        seed_generator.python_random = _LayerSeeds()
    elif type(installed).__name__ != _LayerSeeds.__name__:  # not already ours (a reload)
        raise ImportError(  # a Keras that seeds its layers otherwise: check before upgrading
            f"keras {keras.__version__}: keras.src.random.seed_generator no longer draws "
            "default seeds from `python_random`; stock_pipeline.backend.layer_seeds needs "
            "updating (see stock_pipeline/_keras_private.py)"
        )
    return seed_generator.python_random


_layer_seeds = _install_layer_seeds()


@contextmanager
def layer_seeds(seed: int) -> Iterator[None]:
    """Layers made in this block (in this thread) draw their default seeds from
    ``random.Random(seed)``: what ``random.seed(seed)`` gives when no other thread draws."""
    local = _layer_seeds.local
    previous = getattr(local, "rng", None)
    local.rng = random.Random(seed)
    try:
        yield
    finally:
        local.rng = previous
