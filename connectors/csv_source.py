"""A CSV export of employees and the points granted to them: a profile and a grants source.

The file is only read. When HR replaces it, the next call sees the new file (the call that
notices indexes it; calls of other processes meanwhile answer from the last version); a
malformed replacement is refused with a logged error and the last good data keeps serving.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from decimal import Decimal
from pathlib import Path

from marshmallow import Schema, fields, validate

from connectors.base import (
    ConnectorConfigError,
    FilePath,
    GrantsSource,
    IdentityField,
    Profile,
    ProfileSource,
)
from connectors.directory import (
    Dataset,
    DirectoryIndex,
    MalformedSource,
    Person,
    Reader,
    csv_rows,
)

log = logging.getLogger(__name__)

#: our field name -> default CSV column; an options `columns` table renames any of them.
DEFAULT_COLUMNS: dict[str, str] = {
    "employee_id": "employee_id",
    "email": "email",
    "first_name": "first_name",
    "last_name": "last_name",
    "mobile": "mobile",
    "designation": "designation",
    "department": "department",
    "company": "company",
    "points": "points",
}
#: A file this large takes about a second to index, or more: its build is announced at once.
ANNOUNCE_BYTES = 8 << 20


class CsvOptions(Schema):
    path = FilePath(required=True, validate=validate.Length(min=1))
    columns = fields.Dict(
        keys=fields.String(validate=validate.OneOf(DEFAULT_COLUMNS)),
        values=fields.String(validate=validate.Length(min=1)),
        load_default=dict,
    )
    encoding = fields.String(load_default="utf-8-sig")  # -sig: Excel's byte-order mark is common
    delimiter = fields.String(load_default=",", validate=validate.Length(equal=1))
    # The host's index of the file (connectors/directory), shared by every worker; by default
    # `.<file name>.index` beside the file, which must then be in a folder the gateway may write.
    index_path = FilePath(load_default=None)


class CsvConnector(ProfileSource, GrantsSource):
    """Employees and their granted points from one CSV file with a header row.

    The file is indexed once per version into the host's directory index (connectors/directory),
    which every worker reads: no process holds the file in memory, and a replacement is indexed
    by one process while the others keep answering from the last version."""

    options_schema = CsvOptions

    def __init__(
        self,
        path: str,
        columns: dict[str, str] | None = None,
        encoding: str = "utf-8-sig",
        delimiter: str = ",",
        index_path: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.columns = {**DEFAULT_COLUMNS, **(columns or {})}
        self.encoding = encoding
        self.delimiter = delimiter
        # What else decides the index's content: a changed mapping must index the file anew.
        settings = json.dumps([self.columns, encoding, delimiter], sort_keys=True).encode()
        self._settings = hashlib.sha256(settings).hexdigest()[:16]
        names = {f: self.columns[f] for f in ("employee_id", "email", "mobile")}
        default = self.path.with_name(f".{self.path.name}.index")
        self.index = DirectoryIndex(
            Path(index_path) if index_path else default, names, str(self.path), self._big
        )
        self._found = threading.local()  # this thread's last find: its points come with it
        try:
            self.index.current(self._version(self._stat()), self._rows, wait=True)
        except (OSError, MalformedSource) as exc:
            raise ConnectorConfigError(f"{self.path}: {exc}", option="path") from exc

    # -- the connector API -------------------------------------------------------------------
    def find(self, by: IdentityField, value: str) -> Profile | None:
        value = value if by == "employee_id" else value.strip()
        if not value:
            return None
        person = self._current().find(by, value)
        self._found.person = person
        return None if person is None else person.profile

    def granted(self, profile: Profile) -> Decimal | None:
        # A profile this connector just found is answered from the same version of the file:
        # the person and their points agree, and the file is not looked up twice for a request.
        person: Person | None = getattr(self._found, "person", None)
        if person is None or person.profile is not profile:
            person = self._current().find("employee_id", profile.employee_id)
        if person is None:
            return None
        if person.points is None:
            raise ConnectorConfigError(
                f"{self.path}: no {self.columns['points']!r} column, so no points are granted"
            )
        return person.points

    def check(self) -> None:
        self._stat()  # a vanished file is worth reporting even while old data still serves

    def close(self) -> None:
        self.index.close()

    # -- the index ---------------------------------------------------------------------------
    def _stat(self) -> os.stat_result:
        try:
            return os.stat(self.path)
        except OSError as exc:
            raise ConnectorConfigError(f"{self.path}: {exc.strerror or exc}", "path") from exc

    def _version(self, st: os.stat_result) -> str:
        return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}:{self._settings}"

    def _current(self) -> Reader:
        """The version to answer from: the file's as it is on disk now, once indexed."""
        served = self.index.reader
        try:
            version = self._version(os.stat(self.path))
        except OSError:
            log.error("CSV %s cannot be read; serving the last good data", self.path)
            assert served is not None  # one was served since __init__
            return served
        reader = self.index.current(version, self._rows)
        assert reader is not None  # after __init__ there is always a last good version
        return reader

    def _big(self) -> bool:
        """Whether indexing the file takes long enough to say so before it starts."""
        try:
            return os.stat(self.path).st_size >= ANNOUNCE_BYTES
        except OSError:
            return False

    def _rows(self) -> Dataset:
        return csv_rows.read(self.path, self.columns, self.encoding, self.delimiter)
