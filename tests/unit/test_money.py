"""Amounts as people read them: a total in its currency's decimals, rounded half up,
exact however large."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.services.money import format_amount, format_total


@pytest.mark.parametrize(("value", "currency", "shown"), [
    (Decimal("37.4946"), "USD", "37.49"),
    (Decimal("37.4950"), "USD", "37.50"),
    (Decimal("1234.5000"), "JPY", "1,235"),
    (Decimal("0.0010"), "KWD", "0.001"),
    (Decimal("0"), "EUR", "0.00"),
    # 10^24 in four decimals is 29 digits: past Decimal's default 28, still exact.
    (Decimal("999999999999999999999999.9950"), "USD", "1,000,000,000,000,000,000,000,000.00"),
    (None, "USD", "—"),
])
def test_a_total_is_rounded_to_its_currencys_decimals(value, currency, shown):
    assert format_total(value, currency) == shown


def test_a_unit_cost_keeps_the_decimals_it_has():
    assert format_amount(Decimal("0.0125"), "USD") == "0.0125"
    assert format_amount(Decimal("2.5000"), "USD") == "2.50"
