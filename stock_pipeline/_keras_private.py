"""Every private Keras import of the project, in one place.

Private modules change between releases without notice, which is why ``keras`` is pinned
to a range in ``pyproject.toml`` (``keras>=3.10,<4``; tested with the version in
``constraints.txt``). Check each import below when moving the pin or the lock; the
backend (``stock_pipeline/backend.py``) fails at import, naming the module, if one no
longer behaves as it expects. Import this module only through the backend, which has set
``KERAS_BACKEND`` first. Why each is needed:
"""

# The module whose ``python_random`` (the ``random`` module) draws the default seed of
# every initializer and seed generator a layer makes without one. Keras has no public
# hook for it, and the project needs those draws per thread (``backend.layer_seeds``).
from keras.src.random import seed_generator

__all__ = ["seed_generator"]
