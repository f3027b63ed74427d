"""A CSV export of employees and the points granted to them: a profile and a grants source.

The file is only read. When HR replaces it, the next call sees the new file; a malformed
replacement is refused with a logged error and the last good data keeps serving.
"""

from __future__ import annotations

import csv
import logging
import os
import threading
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
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
REQUIRED_COLUMNS = ("employee_id", "email", "first_name", "last_name")


class CsvOptions(Schema):
    path = FilePath(required=True, validate=validate.Length(min=1))
    columns = fields.Dict(
        keys=fields.String(validate=validate.OneOf(DEFAULT_COLUMNS)),
        values=fields.String(validate=validate.Length(min=1)),
        load_default=dict,
    )
    encoding = fields.String(load_default="utf-8-sig")  # -sig: Excel's byte-order mark is common
    delimiter = fields.String(load_default=",", validate=validate.Length(equal=1))


class MalformedCsv(ValueError):
    pass


@dataclass(frozen=True)
class _Snapshot:
    """One good load of the file: rows indexed by every identity field."""

    signature: tuple[int, int, int]
    by_id: dict[str, Profile]
    by_email: dict[str, Profile]
    by_mobile: dict[str, Profile]
    points: dict[str, Decimal] | None


def _signature(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class CsvConnector(ProfileSource, GrantsSource):
    """Employees and their granted points from one CSV file with a header row."""

    options_schema = CsvOptions

    def __init__(
        self,
        path: str,
        columns: dict[str, str] | None = None,
        encoding: str = "utf-8-sig",
        delimiter: str = ",",
    ) -> None:
        self.path = Path(path)
        self.columns = {**DEFAULT_COLUMNS, **(columns or {})}
        self.encoding = encoding
        self.delimiter = delimiter
        self._lock = threading.Lock()
        self._refused: tuple[int, int, int] | None = None
        try:
            self._snapshot = self._load(_signature(self._stat()))
        except (OSError, MalformedCsv) as exc:
            raise ConnectorConfigError(f"{self.path}: {exc}") from exc

    # -- the connector API -------------------------------------------------------------------
    def find(self, by: IdentityField, value: str) -> Profile | None:
        snap = self._current()
        if by == "email":
            return snap.by_email.get(value.strip().lower())
        if by == "mobile":
            return snap.by_mobile.get(value.strip())
        return snap.by_id.get(value)

    def granted(self, profile: Profile) -> Decimal | None:
        # A profile this connector just found is answered from the same load of the file: the
        # person and their points agree, and the file is not looked at twice for one request.
        snap = self._snapshot
        if snap.by_id.get(profile.employee_id) is not profile:
            snap = self._current()
        if snap.points is None:
            raise ConnectorConfigError(
                f"{self.path}: no {self.columns['points']!r} column, so no points are granted"
            )
        return snap.points.get(profile.employee_id)

    def check(self) -> None:
        self._stat()  # a vanished file is worth reporting even while old data still serves

    # -- loading -----------------------------------------------------------------------------
    def _stat(self) -> os.stat_result:
        try:
            return os.stat(self.path)
        except OSError as exc:
            raise ConnectorConfigError(f"{self.path}: {exc.strerror or exc}") from exc

    def _current(self) -> _Snapshot:
        """The data to answer from, reloading first when the file on disk has changed."""
        snap = self._snapshot
        try:
            sig = _signature(os.stat(self.path))
        except OSError:
            log.error("CSV %s cannot be read; serving the last good data", self.path)
            return snap
        if sig == snap.signature or sig == self._refused:
            return snap
        with self._lock:
            if sig in (self._snapshot.signature, self._refused):
                return self._snapshot
            try:
                self._snapshot = self._load(sig)
                log.info("CSV %s reloaded: %d employees", self.path, len(self._snapshot.by_id))
            except (OSError, MalformedCsv) as exc:
                self._refused = sig
                log.error("CSV %s refused, serving the last good data: %s", self.path, exc)
            return self._snapshot

    def _load(self, sig: tuple[int, int, int]) -> _Snapshot:
        with open(self.path, newline="", encoding=self.encoding) as fh:
            try:
                reader = csv.DictReader(fh, delimiter=self.delimiter)
                header = set(reader.fieldnames or ())
                missing = [
                    self.columns[f] for f in REQUIRED_COLUMNS if self.columns[f] not in header
                ]
                if missing:
                    raise MalformedCsv(f"missing column(s) {', '.join(missing)}")
                has_points = self.columns["points"] in header
                return self._index(reader, sig, has_points)
            except UnicodeDecodeError as exc:
                raise MalformedCsv(f"not {self.encoding} text: {exc.reason}") from exc
            except csv.Error as exc:
                raise MalformedCsv(f"line {reader.line_num}: {exc}") from exc

    def _index(
        self, reader: csv.DictReader[str], sig: tuple[int, int, int], has_points: bool
    ) -> _Snapshot:
        col = self.columns
        by_id: dict[str, Profile] = {}
        by_email: dict[str, Profile] = {}
        by_mobile: dict[str, Profile] = {}
        points: dict[str, Decimal] | None = {} if has_points else None
        for row in reader:
            line = reader.line_num

            profile = Profile.from_record(row, col)
            if not profile.employee_id:
                raise MalformedCsv(f"line {line}: empty {col['employee_id']}")
            # Each identity must name one person, or a redemption could land on the wrong one.
            for index, key, name in (
                (by_id, profile.employee_id, "employee_id"),
                (by_email, profile.email.lower(), "email"),
                (by_mobile, profile.mobile, "mobile"),
            ):
                if not key:
                    continue
                if key in index:
                    raise MalformedCsv(f"line {line}: duplicate {col[name]} {key!r}")
                index[key] = profile
            if points is not None:
                text = (row.get(col["points"]) or "").strip()
                points[profile.employee_id] = _points(text, line, col["points"])
        return _Snapshot(sig, by_id, by_email, by_mobile, points)


def _points(text: str, line: int, column: str) -> Decimal:
    if not text:
        return Decimal(0)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise MalformedCsv(f"line {line}: {column} {text!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise MalformedCsv(f"line {line}: {column} {text!r} must be a finite number >= 0")
    return value
