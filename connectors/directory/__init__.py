"""The on-disk directory every connector that must index a whole dataset shares: one SQLite
file per source version, built by one process of the host, swapped atomically, read by all."""

from connectors.directory.index import DirectoryIndex
from connectors.directory.store import (
    Dataset,
    MalformedSource,
    Person,
    Reader,
    batched,
    joined_values,
    row_of,
)

__all__ = [
    "Dataset",
    "DirectoryIndex",
    "MalformedSource",
    "Person",
    "Reader",
    "batched",
    "joined_values",
    "row_of",
]
