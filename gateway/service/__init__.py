"""The points operations, pure Python: no Flask, no request objects."""

from gateway.service.money import MoneyPolicy
from gateway.service.points import PointsService
from gateway.service.results import BalanceResult, OrderResult, RefundResult

__all__ = ["BalanceResult", "MoneyPolicy", "OrderResult", "PointsService", "RefundResult"]
