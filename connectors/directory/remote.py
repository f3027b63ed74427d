"""For connectors that find people in a remote system (Darwinbox, rest_directory, ldap): which of
a search's answers is the person asked for, and, for those that index its whole dataset, where
the host's index lives by default, which version the clock says to serve, and its rows."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from connectors.base import ConnectorConfigError, IdentityField, Profile, UpstreamError
from connectors.directory.index import DirectoryIndex, Rows
from connectors.directory.store import row_of

T = TypeVar("T")


def only_match(
    system: str, by: IdentityField, value: str, found: Iterable[tuple[str, T]]
) -> T | None:
    """Of what a remote search answered, as (its `by` value, the record), the one record whose
    value is exactly `value` (an email in any case): a system's loose or "contains" search never
    hands one person's points to another. None when none is; two are refused, not guessed.

    An email's case is compared as the directory index compares it (str.lower, store.py), never
    by a folding that turns a letter into others: casefold() makes "weiß" and "weiss" one."""
    wanted = value.lower() if by == "email" else value
    exact = [item for have, item in found if (have.lower() if by == "email" else have) == wanted]
    if len(exact) > 1:
        raise UpstreamError(f"{system}: {len(exact)} people have that {by}; none is used")
    return exact[0] if exact else None


def private_index(kind: str, keys: Iterable[str]) -> Path:
    """`<tmp>/points-gateway-<uid>/<kind>-<digest>.index`: one per system and credentials, in a
    folder only this user may use (another user could otherwise plant the file)."""
    folder = Path(tempfile.gettempdir()) / f"points-gateway-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    st = folder.lstat()
    if st.st_uid != os.getuid() or st.st_mode & 0o077 or not stat.S_ISDIR(st.st_mode):
        raise ConnectorConfigError(f"{folder} is not a private folder of this user: set index_path")
    digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
    return folder / f"{kind}-{digest}.index"


def ttl_version(ttl_seconds: float) -> str:
    """A version a TTL long, the same for every process of the host: a restart within it reuses
    the index, and one process reads the dataset again when it ends."""
    return f"{int(time.time() // ttl_seconds)}:{ttl_seconds}"


class UniqueRows:
    """Directory rows of `people` (see `row_of`), read as they stream in, each email and mobile
    found for one person at most: a value two people hold is found for neither (a redemption
    must never land on one of two people), unless the first of them came in a better `tier`
    (Darwinbox's active dataset before its leavers: a rehire's address is the active person's).
    Everyone stays in the index, found by what else they hold (a mobile cleared is missing from
    the profile the index answers; an email is not). People come in ascending tiers.

    A later holder's row is yielded without the value; the first holder's has gone its way by
    then, so the value is listed in `shared` (as ("email", key) or ("mobile", number)), which
    the index clears from every row once all are in: give it as Dataset(shared=...)."""

    def __init__(
        self,
        people: Iterable[tuple[Profile, Decimal | None]],
        tier: Callable[[Profile], int] | None = None,
    ) -> None:
        self.people = people
        self.tier = tier
        self.shared: set[tuple[str, str]] = set()

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        first: dict[tuple[str, str], int] = {}  # each value: the tier of its first holder
        for line, (profile, points) in enumerate(self.people, start=1):
            row = list(row_of(line, profile, points))
            tier = self.tier(profile) if self.tier is not None else 0
            for at, key in ((2, "email"), (3, "mobile")):
                value = (key, row[at])
                if not row[at]:
                    continue
                if value not in first:
                    first[value] = tier
                    continue
                if first[value] == tier:
                    self.shared.add(value)
                row[at] = ""
            yield tuple(row)


def unique_rows(
    people: Iterable[tuple[Profile, Decimal | None]],
    tier: Callable[[Profile], int] | None = None,
) -> UniqueRows:
    """See UniqueRows: `Dataset(batched(rows), shared=rows.shared)`. Without `shared`, a value
    two people hold stays the first holder's."""
    return UniqueRows(people, tier)


def find_indexed(
    directory: DirectoryIndex, ttl_seconds: float, everyone: Rows, by: IdentityField, value: str
) -> Profile | None:
    """The person the host's index of the dataset holds for `value`, the index read again from
    `everyone` once its TTL version has passed."""
    reader = directory.current(ttl_version(ttl_seconds), everyone)
    person = None if reader is None else reader.find(by, value)
    return None if person is None else person.profile
