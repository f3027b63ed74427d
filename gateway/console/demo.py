"""The demo's console login: public, as the demo's keys are, so it works in a demo alone.

`make run` serves config/demo.toml (`[gateway] demo = true`), whose console has this operator,
added at start, and prints the login. Outside a demo the published password opens nothing, for
this name or any other: a journal copied from the demo, or an operator given that password,
must not open a real deployment's console."""

from __future__ import annotations

import hmac
import logging

from gateway.journal import Journal
from gateway.journal.operators import OperatorRefused, Operators

log = logging.getLogger(__name__)

DEMO_OPERATOR = "demo"
#: Printed by `make run` and written in the docs: public.
DEMO_PASSWORD = "demo-console-password"


def add_demo_operator(journal: Journal) -> None:
    """The demo operator, once (each worker of the demo asks: the first one adds it)."""
    if any(operator.name == DEMO_OPERATOR for operator in Operators(journal).all()):
        return
    try:
        Operators(journal).add(DEMO_OPERATOR, "operator", DEMO_PASSWORD)
    except OperatorRefused:  # another worker added it meanwhile
        return
    log.warning("console: demo operator %r added (its password is public)", DEMO_OPERATOR)


def is_demo_password(password: str) -> bool:
    return hmac.compare_digest(password.encode(), DEMO_PASSWORD.encode())
