"""stock_pipeline: a Dagster code location for leak-free LSTM market forecasts.

The Keras backend must be chosen before anything imports keras; without it Keras
looks for TensorFlow, which this project does not install.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

__version__ = "0.1.0"
