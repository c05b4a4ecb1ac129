"""``dagster job execute`` with a stopwatch on the asset code, for ``benchmarks.nightly``.

    python -m benchmarks.timed_run_worker OUT.json job execute -m ... -j ...

Runs Dagster's own CLI in this process after wrapping two of its functions:

- ``invoke_compute_fn``, which calls the body of an asset or check: its time is
  the asset code (our wiring plus the core functions it calls);
- ``SqliteEventLogStorage.store_event``: every event Dagster writes. Writes made
  from inside an asset body (``context.log``) are bookkeeping, so they are taken
  out of the asset-code time.

At exit it writes ``asset_code_s``, ``event_store_s``, ``events`` and ``process_s``
(interpreter start to exit, as seen from inside) to OUT.json. Nothing here changes
what the run does; it only reads clocks.
"""

from __future__ import annotations

import atexit
import json
import sys
import time
from pathlib import Path

STARTED = time.perf_counter()


def main() -> None:
    out = Path(sys.argv[1])
    from stock_pipeline.defs._dagster_private import run_timing_internals

    dagster_main, compute_generator, SqliteEventLogStorage = run_timing_internals()

    totals = {"asset_code_s": 0.0, "event_store_s": 0.0, "events_in_asset_code_s": 0.0}
    events = [0]
    inside = [False]

    invoke = compute_generator.invoke_compute_fn
    store = SqliteEventLogStorage.store_event

    def timed_invoke(*args, **kwargs):
        start, inside[0] = time.perf_counter(), True
        try:
            return invoke(*args, **kwargs)
        finally:
            inside[0] = False
            totals["asset_code_s"] += time.perf_counter() - start

    def timed_store(self, event):
        start = time.perf_counter()
        try:
            return store(self, event)
        finally:
            seconds = time.perf_counter() - start
            totals["event_store_s"] += seconds
            events[0] += 1
            if inside[0]:
                totals["events_in_asset_code_s"] += seconds

    compute_generator.invoke_compute_fn = timed_invoke
    SqliteEventLogStorage.store_event = timed_store

    def report() -> None:
        asset_code = totals["asset_code_s"] - totals["events_in_asset_code_s"]
        result = {
            **{k: round(v, 3) for k, v in totals.items()},
            "asset_code_s": round(asset_code, 3),
            "events": events[0],
            "process_s": round(time.perf_counter() - STARTED, 3),
        }
        out.write_text(json.dumps(result))

    atexit.register(report)
    sys.argv = ["dagster", *sys.argv[2:]]
    dagster_main()


if __name__ == "__main__":
    main()
