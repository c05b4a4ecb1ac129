"""The backtest report: number formats (``formatting``, no plotting library), charts
(``charts``) and the self-contained HTML page written by ``html.render_report``."""
