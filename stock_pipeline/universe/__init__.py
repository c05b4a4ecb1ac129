"""The pooled cross-sectional forecaster (Fischer & Krauss 2018): one LSTM trained across
every registered ticker to predict which stocks beat the next day's cross-sectional
median, traded as a daily long-short ranking against the short-term reversal rule.

Plain modules, no Dagster: ``panel`` (the date x ticker data as of d), ``periods`` (study
periods), ``network`` (the Keras model, imported lazily), ``walk`` (train per period,
cached, and predict), ``strategies`` (the trading rules), ``honesty`` (the tests),
``asof`` (what the assets call) and ``report`` (the HTML page)."""
