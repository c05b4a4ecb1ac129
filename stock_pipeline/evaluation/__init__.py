"""Evaluation: the walk-forward over folds, the baselines, scores, the Diebold-Mariano
test and the verdict against naive.

Asset group ``evaluation`` (``stock_pipeline/defs/evaluation.py``) wires this package.
``walk_forward`` trains through ``forecasting.training`` and so imports keras lazily.
"""
