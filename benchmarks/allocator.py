"""What the allocator tuning (``forecasting/allocator.py``) gives the pooled model's
training, side by side in one run.

    python -m benchmarks.allocator [--batches 512 2048] [--sequences 16384] [--repeats 3]

Each case is a fresh interpreter (the tuning is per process and must precede JAX's
threads): the pooled network at the defaults (240 steps, 25 units) trained on random
sequences for one epoch to compile, then timed over single epochs with and without the
tuning, alternating which goes first. Reported: training sequences per second (median
of the repeats) and the process's page faults and kernel CPU seconds over the run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys

from benchmarks.common import save

CASE = """
import json, resource, sys, time
import numpy as np
if sys.argv[1] == "glibc_default":
    import stock_pipeline.forecasting.allocator as allocator
    allocator._applied = False  # the network's import then leaves glibc as it is
from stock_pipeline.settings import UniverseSettings
from stock_pipeline.universe import network
batch, n, epochs = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
us = UniverseSettings(batch_size=batch)
rng = np.random.default_rng(0)
x = rng.standard_normal((n, us.sequence_length, 1)).astype("float32")
y = (rng.random(n) > 0.5).astype("float32")
model = network.build_network(us.sequence_length, 1, us)
model.fit(x, y, batch_size=batch, epochs=1, verbose=0)  # compile
rates = []
for _ in range(epochs):
    started = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
    rates.append(n / (time.perf_counter() - started))
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"per_s": rates, "page_faults": usage.ru_minflt, "sys_s": usage.ru_stime}))
"""


def run_case(allocator: str, batch: int, sequences: int, epochs: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CASE, allocator, str(batch), str(sequences), str(epochs)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, nargs="+", default=[512, 2048])
    parser.add_argument("--sequences", type=int, default=16384)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per process")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results: dict = {
        "date": dt.date.today().isoformat(),
        "sequences": args.sequences,
        "load_average_at_start": round(os.getloadavg()[0], 1),
    }
    for batch in args.batches:
        runs: dict[str, list[dict]] = {"glibc_default": [], "tuned": []}
        for i in range(args.repeats):
            order = ("glibc_default", "tuned") if i % 2 == 0 else ("tuned", "glibc_default")
            for allocator in order:
                runs[allocator].append(run_case(allocator, batch, args.sequences, args.epochs))
        row = {
            name: {
                "sequences_per_s": round(statistics.median(r for c in cases for r in c["per_s"])),
                "page_faults": round(statistics.median(c["page_faults"] for c in cases)),
                "kernel_cpu_s": round(statistics.median(c["sys_s"] for c in cases), 1),
            }
            for name, cases in runs.items()
        }
        row["speedup"] = round(
            row["tuned"]["sequences_per_s"] / row["glibc_default"]["sequences_per_s"], 2
        )
        results[f"batch_{batch}"] = row
        print(batch, json.dumps(row), flush=True)
    results["load_average_at_end"] = round(os.getloadavg()[0], 1)
    save("allocator", results)


if __name__ == "__main__":
    main()
