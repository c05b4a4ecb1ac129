"""Every private Dagster import of the project, in one place.

Private modules change between releases without notice, which is why ``dagster`` is
pinned to one version in ``pyproject.toml`` (1.13.27, with its libraries at 0.29.27).
Check each import below when moving the pin. Why each is needed:
"""

# A run request or backfill over an explicit set of (asset, partition) pairs: the data
# assets over a ticker's history plus the model chain for its latest session only.
# ``RunRequest.for_asset_graph_subset`` (public) takes this type, but Dagster does not
# export it.
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.definitions.events import AssetKeyPartitionKey

# ``add-ticker`` submits that subset as an asset backfill to the instance, for the daemon
# to run, without a running webserver (the public path is the GraphQL API).
from dagster._core.execution.backfill import PartitionBackfill
from dagster._core.utils import make_new_backfill_id

__all__ = [
    "AssetGraphSubset",
    "AssetKeyPartitionKey",
    "PartitionBackfill",
    "make_new_backfill_id",
]
