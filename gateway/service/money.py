"""Money rules: points are Decimal, positive, finite, bounded, with few decimal places."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from gateway.errors import InvalidAmount

#: The journal stores amounts as whole ten-thousandths of a point: exact integers in any database.
UNITS_PER_POINT = 10_000


def to_units(points: Decimal) -> int:
    return int(points * UNITS_PER_POINT)


def from_units(units: int) -> Decimal:
    return (Decimal(units) / UNITS_PER_POINT).normalize()


def format_points(points: Decimal) -> str:
    """`Decimal('700.00')` -> "700", `Decimal('1651.50')` -> "1651.5": no exponent, no noise."""
    text = format(points.normalize(), "f")
    return "0" if text in ("-0", "0") else text


@dataclass(frozen=True)
class MoneyPolicy:
    max_decimals: int = 2
    max_amount: Decimal = Decimal("10000000")

    def amount(self, value: Decimal, name: str = "amount") -> Decimal:
        """`value` if it may be debited or credited, else InvalidAmount saying why. Checked
        exactly: nothing here rounds (Decimal.normalize() would, to 28 digits)."""
        if not value.is_finite():
            raise InvalidAmount(f"{name} must be a finite number")
        if value <= 0:
            raise InvalidAmount(f"{name} must be greater than 0")
        if value > self.max_amount:
            raise InvalidAmount(f"{name} must not exceed {format_points(self.max_amount)}")
        value = exact_normal(value)
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)  # finite, checked above
        if -exponent > self.max_decimals:
            raise InvalidAmount(f"{name} has more than {self.max_decimals} decimal places")
        return value


def exact_normal(value: Decimal) -> Decimal:
    """`value` without the trailing zeros of its fraction ("12.50" -> 12.5), exactly."""
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    while exponent < 0 and len(digits) > 1 and digits[-1] == 0:
        digits, exponent = digits[:-1], exponent + 1
    return Decimal((sign, digits, exponent))
