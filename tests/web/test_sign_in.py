"""Sign-in answers alike for unknown users and wrong passwords, and throttles guessing: ten
failures a minute per address and account, the eleventh refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from app.models import User

from .helpers import PASSWORD

FAILED = "Email or password is not right."


@pytest.fixture
def limited_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://")


def attempt(app: Flask, email: str, password: str, address: str = "192.0.2.1") -> int:
    return app.test_client().post(
        "/sign-in", data={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    ).status_code


def test_the_eleventh_failure_in_a_minute_is_refused(
    limited_app: Flask, make_user: Callable[..., User]
) -> None:
    user = make_user(email="victim@example.test")
    # Case and spaces do not make a new account to guess against.
    spellings = ["victim@example.test", "VICTIM@example.test", " victim@Example.TEST "]
    statuses = [attempt(limited_app, spellings[n % 3], f"guess {n}") for n in range(10)]
    assert statuses == [422] * 10
    assert attempt(limited_app, user.email, "guess 11") == 429
    # While blocked even the right password is refused, or the limit would reveal it.
    assert attempt(limited_app, user.email, PASSWORD) == 429
    # Another account from the same address, and the same account from another address,
    # are not locked out by someone else's guessing.
    other = make_user()
    assert attempt(limited_app, other.email, "wrong") == 422
    assert attempt(limited_app, other.email, PASSWORD) == 303
    assert attempt(limited_app, user.email, "wrong", address="198.51.100.7") == 422
    assert attempt(limited_app, user.email, PASSWORD, address="198.51.100.7") == 303


def test_the_429_page_says_why(limited_app: Flask, make_user: Callable[..., User]) -> None:
    user = make_user()
    for n in range(10):
        attempt(limited_app, user.email, f"guess {n}")
    response = limited_app.test_client().post(
        "/sign-in", data={"email": user.email, "password": "x"},
        environ_base={"REMOTE_ADDR": "192.0.2.1"},
    )
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)


def test_successful_sign_ins_are_not_counted(
    limited_app: Flask, make_user: Callable[..., User]
) -> None:
    user = make_user()
    statuses = []
    for n in range(10):
        statuses.append(attempt(limited_app, user.email, f"guess {n}"))
        if n < 5:
            statuses.append(attempt(limited_app, user.email, PASSWORD))
    assert statuses.count(303) == 5 and statuses.count(422) == 10
    assert 429 not in statuses
    assert attempt(limited_app, user.email, "guess 11") == 429


def test_the_limit_is_off_when_disabled(app: Flask, make_user: Callable[..., User]) -> None:
    user = make_user()
    assert [attempt(app, user.email, f"guess {n}") for n in range(12)] == [422] * 12


def test_unknown_user_and_wrong_password_answer_alike(
    app: Flask, make_user: Callable[..., User]
) -> None:
    user = make_user(email="known@example.test")
    replies = {}
    for label, email in (("wrong password", user.email), ("unknown user", "nobody@example.test")):
        response = app.test_client().post("/sign-in", data={"email": email, "password": "nope"})
        body = response.get_data(as_text=True)
        replies[label] = (response.status_code, body.replace(email, "EMAIL"))
        assert FAILED in body
    assert replies["wrong password"] == replies["unknown user"]
    assert replies["unknown user"][0] == 422
    # A deactivated account answers the same way, even with its right password.
    from app.extensions import db

    user.active = False
    db.session.commit()
    response = app.test_client().post("/sign-in", data={"email": user.email,
                                                        "password": PASSWORD})
    assert (response.status_code, response.get_data(as_text=True).replace(user.email, "EMAIL")) \
        == replies["unknown user"]


@pytest.mark.parametrize(
    "form",
    [{}, {"email": "a@example.test"}, {"password": "x"}, {"email": "", "password": ""},
     {"email": "x" * 10_000, "password": "y"}, {"email": "a@example.test", "password": "p" * 2000},
     {"email": "<script>alert(1)</script>", "password": "x"}, {"email": "a\x00b", "password": "x"}],
)
def test_malformed_sign_in_forms_are_refused(app: Flask, form: dict[str, str]) -> None:
    response = app.test_client().post("/sign-in", data=form)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<script>alert" not in body
