"""The points operations, pure Python: no Flask, no request objects."""

from gateway.service.money import MoneyPolicy
from gateway.service.points import BalanceResult, OrderResult, PointsService, RefundResult

__all__ = ["BalanceResult", "MoneyPolicy", "OrderResult", "PointsService", "RefundResult"]
