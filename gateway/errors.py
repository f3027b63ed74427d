"""Errors with a stable `error_code`. The api layer alone maps a code to an HTTP status."""

from __future__ import annotations

from typing import Any, ClassVar


class GatewayError(Exception):
    error_code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class Unauthorized(GatewayError):
    error_code = "unauthorized"


class InvalidRequest(GatewayError):
    error_code = "invalid_request"


class InvalidAmount(GatewayError):
    error_code = "invalid_amount"


class UserNotFound(GatewayError):
    error_code = "user_not_found"


class InsufficientPoints(GatewayError):
    error_code = "insufficient_points"


class OrderConflict(GatewayError):
    error_code = "order_conflict"


class OrderNotFound(GatewayError):
    error_code = "order_not_found"


class RefundExceedsOrder(GatewayError):
    error_code = "refund_exceeds_order"


class OrderRefunded(GatewayError):
    """The order's debit was given back as an orphan: it must not be answered paid now."""

    error_code = "order_refunded"


class OutcomeNotKnown(GatewayError):
    """The ledger may or may not have applied the debit; the journal keeps resolving it."""

    error_code = "outcome_unknown"


class LedgerAnswer(GatewayError):
    """A refusal recorded in the journal, answered again with its own code."""

    def __init__(self, error_code: str, message: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.error_code = error_code  # type: ignore[misc]
