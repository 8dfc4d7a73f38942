"""Malformed input is a ValidationError naming the field, never a database error, and it
changes nothing. Each field is also shown to accept a good value, so the refusals are
about the value and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.services import stock as stock_service
from app.services.errors import NotFound, QuantityTooLarge, ValidationError
from app.services.validation import LIMIT

WHOLE = "Enter a whole number."
RANGE = "Must be between -1,000,000,000 and 1,000,000,000."
NEGATIVE = "Must not be negative."
AT_LEAST_1 = "Must be at least 1."
REQUIRED = "This field is required."
CONTROL = "Must not contain control characters."
TEXT = "Enter text."

# Not whole numbers at all, whatever the field.
NOT_WHOLE = [True, False, 1.0, 2.5, float("nan"), float("inf"), "5", "1e3", "５", "", " 7 ",
             [5], {"n": 5}]
OUT_OF_RANGE = [LIMIT + 1, -LIMIT - 1, 2**31, 2**63, -(2**63), 10**30]


def _quantity_cases(minimum: int, *, required: bool = True) -> list[tuple[Any, str]]:
    cases = [(v, WHOLE) for v in NOT_WHOLE] + [(v, RANGE) for v in OUT_OF_RANGE]
    if required:
        cases.append((None, WHOLE))
    if minimum == 0:
        cases += [(-1, NEGATIVE), (-LIMIT, NEGATIVE)]
    elif minimum == 1:
        cases += [(0, AT_LEAST_1), (-1, AT_LEAST_1), (-LIMIT, AT_LEAST_1)]
    return cases


def _text_cases(max_length: int, *, required: bool) -> list[tuple[Any, str]]:
    cases: list[tuple[Any, str]] = [
        ("x" * (max_length + 1), f"Must be at most {max_length} characters."),
        ("  " + "x" * (max_length + 1), f"Must be at most {max_length} characters."),
        ("nul\x00byte", CONTROL), ("bell\x07", CONTROL), ("two\nlines", CONTROL),
        ("tab\there", CONTROL), ("del\x7f", CONTROL), ("esc\x1b[31m", CONTROL),
        (5, TEXT), (b"bytes", TEXT), (["list"], TEXT),
    ]
    if required:
        cases += [(None, REQUIRED), ("", REQUIRED), ("   ", REQUIRED)]
    return cases


@pytest.fixture
def new_stock(store, location, make_product, make_entry, make_location, admin_actor):
    """Builds an entry with 10 on hand and 4 held, an entry without holds, a second
    location and a product without entries."""

    def build() -> dict[str, Any]:
        product = make_product(store)
        entry = make_entry(quantity=10, location=location, product=product)
        hold = stock_service.reserve_stock(
            actor=admin_actor, entry_id=entry.id, quantity=4, order_ref="HELD"
        ).reservation_ids[0]
        return {"entry": entry, "hold": hold, "there": make_location(store),
                "loose": make_entry(quantity=3, location=location),
                "spare": make_product(store), "location": location, "store": store}

    return build


@pytest.fixture
def stock(new_stock):
    return new_stock()


@pytest.fixture
def unchanged(snapshot):
    """`with unchanged():` the block may refuse many things but changes no row."""
    from contextlib import contextmanager

    @contextmanager
    def guard():
        before = snapshot()
        yield
        assert snapshot() == before, "a refused operation changed the database"

    return guard


Call = Callable[[Any, dict[str, Any], Any], Any]


def _calls(s: dict[str, Any]) -> dict[str, tuple[Call, dict[str, Any]]]:
    """Each operation with arguments that succeed; a case replaces one of them."""
    e = s["entry"]
    line = {"product_id": e.product_id, "location_id": e.location_id, "quantity": 1}
    return {
        "adjust": (stock_service.adjust_stock, {"entry_id": e.id, "delta": 1, "reason": "r",
                                            "reference": None}),
        "set": (stock_service.set_stock, {"entry_id": e.id, "quantity": 10, "reason": None,
                                      "expected_version": None, "expected_quantity": None}),
        "count": (stock_service.count_stock, {"entry_id": e.id, "counted_quantity": 10,
                                          "reason": None}),
        "reserve": (stock_service.reserve_stock, {"entry_id": e.id, "quantity": 1,
                                              "order_ref": "O", "line_ref": None,
                                              "reason": None}),
        "release": (stock_service.release_stock, {"entry_id": e.id, "quantity": 1,
                                              "order_ref": None, "line_ref": None,
                                              "reason": None}),
        "fulfill": (stock_service.fulfill_stock, {"entry_id": e.id, "quantity": 1,
                                              "reason": None}),
        "return": (stock_service.return_stock, {"entry_id": e.id, "quantity": 1, "reason": "r",
                                            "reference": None}),
        "transfer": (stock_service.transfer_stock, {
            "product_id": e.product_id, "from_location_id": e.location_id,
            "to_location_id": s["there"].id, "quantity": 1, "reason": None,
            "reference": None}),
        "threshold": (stock_service.set_threshold, {"entry_id": e.id, "low_stock_threshold": 1}),
        "create": (stock_service.create_entry, {
            "product_id": s["spare"].id, "location_id": s["location"].id, "quantity": 0,
            "low_stock_threshold": 0, "incoming_quantity": 0, "reason": None}),
        "order": (stock_service.reserve_order, {"store_id": s["store"].id, "order_ref": "O",
                                            "lines": [line]}),
        "delete": (stock_service.delete_entry, {"entry_id": s["loose"].id, "reason": None}),
    }


def _field_cases() -> list[tuple[str, str, list[tuple[Any, str]]]]:
    """(operation, field, [(bad value, message)]) for every quantity and text field."""
    q = _quantity_cases
    t = _text_cases
    cases = [
        ("adjust", "delta", [(v, m) for v, m in q(-LIMIT)] + [(0, "Must not be zero.")]),
        ("set", "quantity", q(0)),
        ("set", "expected_version", q(1, required=False)),
        ("set", "expected_quantity", q(0, required=False)),
        ("count", "counted_quantity", q(0)),
        ("reserve", "quantity", q(1)),
        ("release", "quantity", q(1)),
        ("fulfill", "quantity", q(1)),
        ("return", "quantity", q(1)),
        ("transfer", "quantity", q(1)),
        ("threshold", "low_stock_threshold", q(0)),
        ("create", "quantity", q(0)),
        ("create", "low_stock_threshold", q(0)),
        ("create", "incoming_quantity", q(0)),
        ("adjust", "reason", t(200, required=True)),
        ("return", "reason", t(200, required=True)),
        ("adjust", "reference", t(100, required=False)),
        ("return", "reference", t(100, required=False)),
        ("transfer", "reference", t(100, required=False)),
        ("reserve", "order_ref", t(100, required=True)),
        ("order", "order_ref", t(100, required=True)),
        ("reserve", "line_ref", t(100, required=False)),
        ("release", "order_ref", t(100, required=False)),
        ("release", "line_ref", t(100, required=False)),
    ]
    for operation in ("set", "count", "reserve", "release", "fulfill", "transfer", "create",
                      "delete"):
        cases.append((operation, "reason", t(200, required=False)))
    return cases


FIELD_CASES = _field_cases()


def _refused(error: type[Exception], call: Callable[[], Any]) -> Any:
    with pytest.raises(error) as info:
        call()
    return info.value


def test_malformed_values_are_refused_naming_their_field(
    stock, admin_actor, unchanged, subtests
):
    calls = _calls(stock)

    with unchanged():
        for operation, field, bad in FIELD_CASES:
            call, good = calls[operation]
            for value, message in bad:
                with subtests.test(f"{operation}.{field}", value=value):
                    error = _refused(ValidationError, lambda call=call, good=good, field=field,
                                     value=value: call(actor=admin_actor,
                                                       **{**good, field: value}))
                    assert error.fields == {field: message}

    # The same calls with the good values go through: the refusals were about the value.
    for operation, (call, good) in calls.items():
        with subtests.test(f"{operation} with good values"):
            call(actor=admin_actor, **good)


EDGES = [
    ("adjust", "reason", "x" * 200), ("adjust", "reason", "  padded  "),
    ("adjust", "reason", "Ünïcødé — ok ✓"), ("adjust", "delta", LIMIT - 10),
    ("adjust", "delta", -6), ("reserve", "quantity", 6), ("set", "quantity", LIMIT),
    ("count", "counted_quantity", 4), ("return", "reference", "r" * 100),
    ("reserve", "order_ref", "o" * 100), ("threshold", "low_stock_threshold", LIMIT),
    ("create", "low_stock_threshold", LIMIT), ("set", "expected_version", 2),
]


def test_values_at_the_edges_are_accepted(new_stock, admin_actor, subtests):
    for operation, field, value in EDGES:
        with subtests.test(f"{operation}.{field}", value=value):
            call, good = _calls(new_stock())[operation]
            call(actor=admin_actor, **{**good, field: value})


def test_every_bad_field_is_named_at_once(stock, admin_actor, refused):
    with refused(ValidationError, fields={"delta": "Must not be zero.", "reason": REQUIRED,
                                          "reference": CONTROL}):
        stock_service.adjust_stock(actor=admin_actor, entry_id=stock["entry"].id, delta=0,
                               reason=" ", reference="a\x00b")


def test_the_message_lists_each_field(stock, admin_actor, refused):
    with refused(ValidationError, "quantity: Must be at least 1.; order_ref: " + REQUIRED):
        stock_service.reserve_stock(actor=admin_actor, entry_id=stock["entry"].id, quantity=0,
                                order_ref="")


BAD_IDS = [True, False, 0, -1, 2**31, 2**63, 2**64, 1.0, "1", "abc", None, [1]]


def test_a_malformed_entry_id_is_not_found(stock, admin_actor, unchanged, subtests):
    calls = _calls(stock)

    with unchanged():
        for operation in ("adjust", "set", "count", "reserve", "return", "threshold",
                          "delete"):
            call, good = calls[operation]
            for value in BAD_IDS:
                with subtests.test(operation, value=value):
                    error = _refused(NotFound, lambda call=call, good=good, value=value: call(
                        actor=admin_actor, **{**good, "entry_id": value}))
                    assert str(error) == "Inventory entry not found."


ID_FIELDS = [
    ("release", "entry_id", "Choose one from the list."),
    ("fulfill", "entry_id", "Choose one from the list."),
    ("transfer", "product_id", "Choose one from the list."),
    ("transfer", "from_location_id", "Choose one from the list."),
    ("transfer", "to_location_id", "Choose one from the list."),
    ("create", "product_id", "Choose one from the list."),
    ("create", "location_id", "Choose one from the list."),
    ("order", "store_id", "Choose a store."),
]


def test_a_malformed_id_is_refused_by_field(stock, admin_actor, unchanged, subtests):
    calls = _calls(stock)

    with unchanged():
        for operation, field, message in ID_FIELDS:
            call, good = calls[operation]
            for value in BAD_IDS:
                if value is None and field == "entry_id":
                    continue  # leaving the entry out asks for a reservation id instead
                with subtests.test(f"{operation}.{field}", value=value):
                    error = _refused(ValidationError, lambda call=call, good=good, field=field,
                                     value=value: call(actor=admin_actor,
                                                       **{**good, field: value}))
                    assert error.fields[field] == message
        for close in (stock_service.release_stock, stock_service.fulfill_stock):
            for value in BAD_IDS:
                if value is None:
                    continue
                with subtests.test(close.__name__, value=value):
                    error = _refused(ValidationError, lambda close=close, value=value: close(
                        actor=admin_actor, reservation_id=value))
                    assert error.fields == {"reservation_id": "Choose one from the list."}
        call, good = calls["order"]
        for value in BAD_IDS:
            line = {**good["lines"][0], "product_id": value, "location_id": value}
            fields = {"lines[0].product_id": "Choose a product."}
            if value is not None:
                fields["lines[0].location_id"] = "Choose a location."
            with subtests.test("order line", value=value):
                error = _refused(ValidationError, lambda line=line: call(
                    actor=admin_actor, **{**good, "lines": [line]}))
                assert error.fields == fields


@pytest.mark.parametrize("close", [stock_service.release_stock, stock_service.fulfill_stock])
def test_closing_holds_needs_exactly_one_of_entry_and_reservation(close, stock, admin_actor,
                                                                   refused):
    message = "Give either a reservation or an entry, not both."
    with refused(ValidationError, fields={"reservation_id": message}):
        close(actor=admin_actor, entry_id=stock["entry"].id, reservation_id=stock["hold"],
              quantity=1)
    with refused(ValidationError, fields={"reservation_id": message}):
        close(actor=admin_actor, quantity=1)


def test_closing_holds_on_an_entry_needs_a_quantity(stock, admin_actor, refused):
    with refused(ValidationError, fields={"quantity": WHOLE}):
        stock_service.release_stock(actor=admin_actor, entry_id=stock["entry"].id)


def test_a_bad_expiry_is_refused(stock, admin_actor, unchanged, subtests):
    from app.clock import frozen_at

    now = datetime(2030, 1, 1)
    cases = [
        (now - timedelta(seconds=1), "Must be in the future."),
        (now, "Must be in the future."),
        (datetime(2030, 1, 1, 1, tzinfo=UTC), "Enter a date and time (UTC)."),
        ("2099-01-01T00:00:00", "Enter a date and time (UTC)."),
        (4102444800, "Enter a date and time (UTC)."),
    ]
    calls = _calls(stock)
    with unchanged(), frozen_at(now):
        for operation in ("reserve", "order"):
            call, good = calls[operation]
            for value, message in cases:
                with subtests.test(operation, value=value):
                    error = _refused(ValidationError, lambda call=call, good=good, value=value:
                                     call(actor=admin_actor, **good, expires_at=value))
                    assert error.fields == {"expires_at": message}


def test_a_malformed_idempotency_key_is_refused(stock, admin_actor, unchanged, subtests):
    with unchanged():
        for key in ("", "   ", "k" * 201, 42, "a\x00b"):
            with subtests.test(key=key):
                error = _refused(ValidationError, lambda key=key: stock_service.adjust_stock(
                    actor=admin_actor, entry_id=stock["entry"].id, delta=1, reason="r",
                    idempotency_key=key))
                assert list(error.fields) == ["idempotency_key"]


# --------------------------------------------------------------------------- the maximum


def test_adjust_up_to_the_maximum_is_allowed(make_entry, admin_actor):
    entry = make_entry(quantity=LIMIT - 10)

    change = stock_service.adjust_stock(actor=admin_actor, entry_id=entry.id, delta=10, reason="x")

    assert change.entry.quantity == LIMIT


def test_adjust_past_the_maximum_is_quantity_too_large(make_entry, admin_actor, unchanged,
                                                       subtests):
    entries = {start: make_entry(quantity=start) for start in (LIMIT - 10, LIMIT, 1)}

    with unchanged():
        for start, delta in ((LIMIT - 10, 11), (LIMIT, 1), (1, LIMIT)):
            with subtests.test(start=start, delta=delta):
                error = _refused(QuantityTooLarge, lambda start=start, delta=delta:
                                 stock_service.adjust_stock(actor=admin_actor,
                                                        entry_id=entries[start].id,
                                                        delta=delta, reason="x"))
                assert str(error) == "On hand would exceed the maximum of 1,000,000,000."
