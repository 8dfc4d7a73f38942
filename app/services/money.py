"""Amounts of money as Stockroom keeps them: whole numbers of COST_SCALE-ths of a currency's
unit (app.models.purchasing says why), read from what people and programs send, and written
back as they read them.

Service functions take an amount as an int (whole units), a Decimal or decimal text
("12.5", "0.0125"), never a float (0.1 has no exact binary form) and never the stored
integer itself, so no caller can mistake 1250 for 12.50.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any

from app.models.purchasing import COST_SCALE
from app.services.validation import Checker

# The dearest unit cost Stockroom keeps, in the currency's units: room for a machine priced
# in rupiah, while amount × quantity stays exact in Python and in PostgreSQL's numeric.
MAX_AMOUNT = 1_000_000_000
SCALE_DIGITS = 4
# An exchange rate: store currency per unit of an order's, at most 9 decimals and under a
# million, so it is exact on PostgreSQL and within a double's 15 digits on SQLite.
RATE_DIGITS = 9
MAX_RATE = Decimal(1_000_000)
_DECIMAL_TEXT = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,15})?")
_CURRENCY = re.compile(r"[A-Z]{3}")
# Decimals each currency is written with (ISO 4217), where it is not 2.
_MINOR_DIGITS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
                     "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}


def minor_digits(currency: str) -> int:
    """How many decimals the currency is written with: JPY 0, USD 2, KWD 3."""
    return _MINOR_DIGITS.get(currency, 2)


def _decimal(value: Any) -> Decimal | None:
    """`value` as a Decimal when it is a plain amount: an int (not a bool), a finite
    Decimal, or ASCII decimal text without sign or exponent; else None."""
    if type(value) is int:
        return Decimal(value)
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, str):
        text = value.strip(" \t")
        if not _DECIMAL_TEXT.fullmatch(text):
            return None
        try:
            return Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern admits only digits
            return None
    return None


def check_amount(check: Checker, field: str, value: Any, *, required: bool = True) -> int | None:
    """The amount as stored (× COST_SCALE), or None after noting what is wrong with it
    (or when it is optional and absent)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            check.fail(field, "Enter an amount, like 12.50.")
        return None
    amount = _decimal(value)
    if amount is None:
        check.fail(field, "Enter an amount, like 12.50.")
        return None
    if amount < 0:
        check.fail(field, "Must not be negative.")
        return None
    if amount > MAX_AMOUNT:
        check.fail(field, f"Must be at most {MAX_AMOUNT:,}.")
        return None
    if -amount.as_tuple().exponent > SCALE_DIGITS:  # type: ignore[operator]
        check.fail(field, f"Use at most {SCALE_DIGITS} decimals.")
        return None
    return int(amount * COST_SCALE)


def check_rate(check: Checker, field: str, value: Any) -> Decimal | None:
    """An exchange rate (store currency per unit of the order's), or None when absent or
    after noting what is wrong with it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    rate = _decimal(value)
    if rate is None:
        check.fail(field, "Enter a rate, like 1.0825.")
        return None
    if not 0 < rate < MAX_RATE:
        check.fail(field, f"Must be above 0 and below {MAX_RATE:,}.")
        return None
    if -rate.as_tuple().exponent > RATE_DIGITS:  # type: ignore[operator]
        check.fail(field, f"Use at most {RATE_DIGITS} decimals.")
        return None
    return rate


def check_currency(check: Checker, field: str, value: Any, *, required: bool = True
                   ) -> str | None:
    """An ISO 4217 code, uppercased: "eur" is EUR."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            check.fail(field, "Enter a currency code, like EUR.")
        return None
    code = value.strip().upper() if isinstance(value, str) and value.isascii() else ""
    if not _CURRENCY.fullmatch(code):
        check.fail(field, "Enter a three-letter currency code, like EUR.")
        return None
    return code


def amount(stored: int | None) -> Decimal | None:
    """A stored amount in the currency's units, with its four decimals: 125000 is 12.5000."""
    if stored is None:
        return None
    return Decimal(stored).scaleb(-SCALE_DIGITS)


def format_amount(value: Decimal | None, currency: str) -> str:
    """An amount as people write it: the currency's decimals, more only where the amount
    has them (12.50, 0.0125; 1,200 yen as 1,200); an unknown amount is an em dash."""
    if value is None:
        return "—"
    places = -int(value.normalize().as_tuple().exponent)
    digits = min(max(minor_digits(currency), places), SCALE_DIGITS)
    return f"{value:,.{digits}f}"


def format_total(value: Decimal | None, currency: str) -> str:
    """A sum of money as a total is read: rounded half up to the currency's decimals
    (1,234.57 dollars, 1,235 yen, 1.235 dinars); an unknown one is an em dash."""
    if value is None:
        return "—"
    digits = minor_digits(currency)
    # Room for any sum of stock values: the default 28 digits would round a huge one.
    with localcontext() as context:
        context.prec = 60
        rounded = value.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return f"{rounded:,.{digits}f}"


def convert(stored: int, rate: Decimal | None) -> int:
    """A stored amount in an order's currency, in the store's at `rate` (None: the same
    currency), rounded half up to the stored scale."""
    if rate is None:
        return stored
    return int((Decimal(stored) * rate).to_integral_value(rounding=ROUND_HALF_UP))


__all__ = [
    "MAX_AMOUNT",
    "amount",
    "check_amount",
    "check_currency",
    "check_rate",
    "convert",
    "format_amount",
    "format_total",
    "minor_digits",
]
