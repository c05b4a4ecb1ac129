"""What a Dask worker does when it joins an engine's cluster, before it runs a call.

Its own module because it subclasses a ``distributed`` class: importing it imports
``distributed``, which a process computing in-process never needs.
"""

from __future__ import annotations

import asyncio
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from stock_pipeline.settings import ComputeSettings


class BackendSettings(WorkerPlugin):
    """Each worker, when it joins (now or later), applies the compute settings to its
    backend before it runs a call: JAX opens its compilation cache at the first compile."""

    name = "stock_pipeline-backend"

    def __init__(self, settings: ComputeSettings):
        self.settings = settings

    async def setup(self, worker: Any) -> None:
        # importing keras takes seconds: off the worker's event loop, which must keep
        # answering the scheduler's heartbeats meanwhile
        await asyncio.get_running_loop().run_in_executor(None, _configure, self.settings)


def _configure(settings: ComputeSettings) -> None:
    from stock_pipeline import backend  # imports keras: in the executor thread, not at import

    backend.configure(settings)
