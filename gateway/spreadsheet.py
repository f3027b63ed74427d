"""CSV cells safe to open in a spreadsheet: a value that begins like a formula (= + - @, or a
tab or carriage return) gets a leading apostrophe, so an order id chosen by an attacker cannot
run in finance's spreadsheet (OWASP's "CSV injection"). Every CSV the gateway writes for people
goes through `cell`; `journal export --raw` alone writes the bytes as they are."""

from __future__ import annotations

FORMULA = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA) else text
