"""stock_pipeline: a Dagster code location for leak-free LSTM market forecasts.

Importing the package changes nothing in the process: Keras, JAX and the allocator are
prepared by ``stock_pipeline.backend``, which the modules that use them import first.
"""

__version__ = "0.1.0"
