"""Only the registration figure of ``benchmarks.universe``, for comparing two versions.

    python -m benchmarks.universe_register [50 200 ...] [--years 10]

It calls ``register_and_backfill`` of whichever ``benchmarks.universe`` is importable, so an
older version is measured with its own waiting logic, in the same conditions:

    git archive 0f92049 | tar -x -C /tmp/old
    cd /tmp/old && PYTHONPATH=/tmp/old python /path/to/benchmarks/universe_register.py 50

Prints one JSON line per size and saves nothing: each line belongs next to the other
version's, measured in the same conditions (``results/universe_register.json`` holds them
with the machine's load at the time).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from benchmarks.common import quiet
from benchmarks.universe import (
    environment,
    register_and_backfill,
    stop_sensor,
    ticker_names,
    write_universe,
)


def measure(size: int, years: int) -> dict:
    from stock_pipeline_tests.support.e2e_stack import running_stack

    tickers = ticker_names(size)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        days = write_universe(folder, tickers, years)
        (folder / "watchlist.yaml").write_text("tickers: []\n")
        env = environment(folder, days[0])
        with running_stack(folder, env, days[0], days[-1], daemon=False) as stack:
            stop_sensor(stack, "model_chain_after_data")  # the data history only
            stack.start_daemon()
            return {"tickers": size, **register_and_backfill(stack, tickers, days[0])}


def main() -> None:
    quiet()
    parser = argparse.ArgumentParser()
    parser.add_argument("tickers", type=int, nargs="*", default=[50])
    parser.add_argument("--years", type=int, default=10)
    args = parser.parse_args()
    for size in args.tickers:
        print(json.dumps(measure(size, args.years)), flush=True)


if __name__ == "__main__":
    main()
