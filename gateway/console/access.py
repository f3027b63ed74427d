"""Who is at the console: the logged-in operator (Flask-Login), and the lockout of login
attempts, counted in the journal per address and per account."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Request
from flask_login import UserMixin

from gateway.journal.operators import Operator, Operators


class ConsoleUser(UserMixin):  # flask_login ships no type hints: UserMixin is Any
    def __init__(self, operator: Operator) -> None:
        self.operator = operator

    def get_id(self) -> str:
        return self.operator.name

    @property
    def name(self) -> str:
        return self.operator.name

    @property
    def may_act(self) -> bool:
        return self.operator.may_act


def load_user(gateway: Any, name: str) -> ConsoleUser | None:
    """The operator named `name`, read again each request: a removed one is out at once."""
    found = Operators(gateway.journal).get(name)
    return ConsoleUser(found) if found else None


def user_from_header(gateway: Any, request: Request) -> ConsoleUser | None:
    """With an authenticating proxy in front: the operator it names, if there is one."""
    name = request.headers.get(gateway.settings.console["trusted_user_header"], "").strip()
    return load_user(gateway, name) if name else None


class Lockout:
    """Login attempts per address and per account: after `max_failures` within
    `lockout_seconds`, that address (for any account) and that account (from anywhere) wait.
    Each attempt is counted before its password is checked; a success clears both counts."""

    def __init__(self, gateway: Any) -> None:
        console = gateway.settings.console
        self.operators = Operators(gateway.journal)
        self.limit = console["max_failures"]
        self.window = timedelta(seconds=console["lockout_seconds"])

    @staticmethod
    def keys(name: str, address: str | None) -> list[str]:
        # The address first: once it is locked out, the names it tries add no rows.
        return [f"address:{address or 'unknown'}", f"account:{name[:64]}"]

    def attempt(self, name: str, address: str | None) -> bool:
        """Count this attempt; whether its password may be checked."""
        return self.operators.attempt(self.keys(name, address), self.limit, self.window)

    def succeeded(self, name: str, address: str | None) -> None:
        self.operators.succeeded(self.keys(name, address))
