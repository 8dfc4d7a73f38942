"""Reading the audit trail: every filter, keyset paging, who may read which rows, foreign
ids refused as not found, and the changes an entry's and a product's history show."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from app.clock import frozen_at
from app.database import write_transaction
from app.models import User
from app.permissions import AUDIT, Actor
from app.services import activity, audit
from app.services.activity import ActivityFilters
from app.services.errors import NotFound, PermissionDenied, ValidationError

# The fixtures build their stores, products and entries through the verbs, which record
# themselves; these tests read a trail written by hand, so only `write` records.
_RECORD_MANY = audit.record_many
_quiet = {"on": False}


@contextmanager
def _recording() -> Iterator[None]:
    _quiet["on"] = False
    try:
        yield
    finally:
        _quiet["on"] = True


@pytest.fixture(autouse=True)
def _only_the_written_trail(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def record_many(*args: Any, **kwargs: Any) -> int:
        return 0 if _quiet["on"] else _RECORD_MANY(*args, **kwargs)

    monkeypatch.setattr(audit, "record_many", record_many)
    _quiet["on"] = True
    yield
    _quiet["on"] = False


def write(actor: Actor, action: str, object_type: str, object_id: int | None, label: str,
          *, when: datetime = datetime(2026, 3, 1, 9, 0), **kwargs: Any) -> None:
    with frozen_at(when), write_transaction() as session:
        with _recording():
            audit.record(session, actor, action, object_type, object_id, label, **kwargs)


def ids(page: activity.ActivityPage) -> list[int]:
    return [row.id for row in page.rows]


@pytest.fixture
def trail(
    admin_actor: Actor, make_store: Callable[..., Any], make_product: Callable[..., Any],
    make_entry: Callable[..., Any], make_user: Callable[..., User],
    actor_of: Callable[[User], Actor],
) -> SimpleNamespace:
    """Store Alpha: a product edited, its entry's threshold set, a member added; store
    Beta: a product archived; and a store-less token revocation."""
    alpha, beta = make_store("Alpha"), make_store("Beta")
    mug = make_product(alpha, "MUG", title="Blue Mug")
    entry = make_entry(store=alpha, product=mug)
    hat = make_product(beta, "HAT", title="Hidden Hat")
    owner = make_user(role="owner", store=alpha)
    staff = make_user(role="staff", store=alpha)
    auditor = make_user(role="staff", store=alpha, grants=(AUDIT,))
    platform = make_user(platform_admin=True)
    clerk = Actor(name="clerk@example.test", user_id=owner.id)
    write(clerk, "product.updated", "product", mug.id, "MUG — Blue Mug", store_id=alpha.id,
          product_id=mug.id, changes={"reorder_point": (0, 5)}, when=datetime(2026, 3, 1, 9))
    write(admin_actor, "entry.threshold_set", "entry", entry.id, "MUG at LOC", store_id=alpha.id,
          product_id=mug.id, changes={"low_stock_threshold": (3, 0)},
          when=datetime(2026, 3, 2, 9))
    write(clerk, "member.added", "member", 77, "new@example.test", store_id=alpha.id,
          changes={"role": (None, "staff")}, when=datetime(2026, 3, 3, 9))
    write(admin_actor, "product.archived", "product", hat.id, "HAT — Hidden Hat",
          store_id=beta.id, product_id=hat.id, when=datetime(2026, 3, 4, 9))
    write(clerk, "token.revoked", "token", 5, "laptop", when=datetime(2026, 3, 5, 9))
    return SimpleNamespace(
        alpha=alpha, beta=beta, mug=mug, entry=entry, hat=hat, clerk=clerk,
        owner=actor_of(owner), staff=actor_of(staff), auditor=actor_of(auditor),
        platform=actor_of(platform),
    )


def actions(page: activity.ActivityPage) -> list[str]:
    return [row.action for row in page.rows]


def test_an_owner_reads_their_store_newest_first_and_nothing_else(trail) -> None:
    page = activity.list_activity(trail.owner, ActivityFilters())
    assert actions(page) == ["member.added", "entry.threshold_set", "product.updated"]
    assert page.total == 3 and not page.total_capped
    first = page.rows[-1]
    assert (first.action_label, first.object_label, first.object_exists) == (
        "Product updated", "MUG — Blue Mug", True)
    assert [(c.label, c.before, c.after) for c in first.changes] == [("Reorder point", "0", "5")]
    assert page.rows[1].action_label == "Threshold set"


def test_a_staff_member_granted_audit_reads_the_store_and_one_without_reads_nothing(trail):
    assert activity.list_activity(trail.auditor, ActivityFilters()).total == 3
    assert activity.can_read_activity(trail.auditor)
    assert activity.list_activity(trail.staff, ActivityFilters()).rows == []
    assert not activity.can_read_activity(trail.staff)


def test_a_platform_admin_reads_every_store_and_the_store_less_rows(trail) -> None:
    page = activity.list_activity(trail.platform, ActivityFilters())
    assert actions(page) == ["token.revoked", "product.archived", "member.added",
                             "entry.threshold_set", "product.updated"]
    assert page.rows[0].store_id is None and page.rows[0].store_name is None
    assert page.rows[1].store_name == "Beta"


@pytest.mark.parametrize("filters, expected", [
    (dict(kind="product"), ["product.updated"]),
    (dict(kind="entry.threshold_set"), ["entry.threshold_set"]),
    (dict(kind="member"), ["member.added"]),
    (dict(actor_name="CLERK@"), ["member.added", "product.updated"]),
    (dict(date_from=date(2026, 3, 2)), ["member.added", "entry.threshold_set"]),
    (dict(date_to=date(2026, 3, 2)), ["entry.threshold_set", "product.updated"]),
    (dict(date_from=date(2026, 3, 2), date_to=date(2026, 3, 2)), ["entry.threshold_set"]),
])
def test_each_filter_narrows_the_trail(trail, filters: dict[str, Any], expected) -> None:
    assert actions(activity.list_activity(trail.owner, ActivityFilters(**filters))) == expected


def test_a_product_filter_includes_its_entries_and_an_object_filter_only_that_object(trail):
    by_product = activity.list_activity(trail.owner, ActivityFilters(product_id=trail.mug.id))
    assert actions(by_product) == ["entry.threshold_set", "product.updated"]
    one = ActivityFilters(object_type="entry", object_id=trail.entry.id)
    assert actions(activity.list_activity(trail.owner, one)) == ["entry.threshold_set"]


def test_an_actor_filter_by_id_and_the_store_filter(trail) -> None:
    by_id = ActivityFilters(actor_id=trail.clerk.user_id)
    assert actions(activity.list_activity(trail.platform, by_id)) == [
        "token.revoked", "member.added", "product.updated"]
    in_beta = ActivityFilters(store_id=trail.beta.id)
    assert actions(activity.list_activity(trail.platform, in_beta)) == ["product.archived"]
    # The owner's scope still applies under a filter that names their own store.
    assert activity.list_activity(trail.owner, ActivityFilters(kind="token")).rows == []


def test_pages_walk_forward_and_back_without_gaps_or_repeats(trail) -> None:
    everything = ids(activity.list_activity(trail.platform, ActivityFilters()))
    first = activity.list_activity(trail.platform, ActivityFilters(), limit=2)
    second = activity.list_activity(trail.platform, ActivityFilters(), cursor=first.next_cursor,
                                    limit=2)
    third = activity.list_activity(trail.platform, ActivityFilters(), cursor=second.next_cursor,
                                   limit=2)
    assert ids(first) + ids(second) + ids(third) == everything
    assert first.prev_cursor is None and third.next_cursor is None
    back = activity.list_activity(trail.platform, ActivityFilters(), cursor=third.prev_cursor,
                                  limit=2)
    assert ids(back) == ids(second)


def test_a_forged_cursor_is_a_validation_error(trail) -> None:
    with pytest.raises(ValidationError) as info:
        activity.list_activity(trail.owner, ActivityFilters(), cursor="not-a-cursor")
    assert info.value.fields == {"cursor": "This page link is no longer valid."}


@pytest.mark.parametrize("filters", [
    lambda t: ActivityFilters(store_id=t.beta.id),
    lambda t: ActivityFilters(store_id=99_999),
    lambda t: ActivityFilters(product_id=t.hat.id),
    lambda t: ActivityFilters(product_id=99_999),
    lambda t: ActivityFilters(object_type="product", object_id=t.hat.id),
    lambda t: ActivityFilters(object_type="token", object_id=5),
    lambda t: ActivityFilters(object_type="entry", object_id=99_999),
])
def test_filters_naming_what_the_actor_cannot_read_are_not_found(trail, filters) -> None:
    with pytest.raises(NotFound):
        activity.require_filters(trail.owner, filters(trail))


def test_filters_naming_readable_or_recorded_objects_pass(trail) -> None:
    for filters in (ActivityFilters(store_id=trail.alpha.id),
                    ActivityFilters(product_id=trail.mug.id),
                    ActivityFilters(object_type="member", object_id=77),
                    ActivityFilters(object_type="entry", object_id=trail.entry.id)):
        activity.require_filters(trail.owner, filters)
    activity.require_filters(trail.platform, ActivityFilters(object_type="token", object_id=5))


def test_a_store_read_needs_the_store_and_audit_read_in_it(trail) -> None:
    activity.require_store_activity(trail.owner, trail.alpha.id)
    with pytest.raises(NotFound):
        activity.require_store_activity(trail.owner, trail.beta.id)
    with pytest.raises(PermissionDenied):
        activity.require_store_activity(trail.staff, trail.alpha.id)


def test_entry_and_product_histories_show_their_changes_to_readers(trail) -> None:
    for reader in (trail.owner, trail.staff):
        assert actions(activity.entry_changes(reader, trail.entry.id)) == ["entry.threshold_set"]
        assert actions(activity.product_changes(reader, trail.mug.id)) == [
            "entry.threshold_set", "product.updated"]
    assert activity.product_changes(trail.owner, trail.hat.id).rows == []


def test_every_row_in_the_export_matches_the_page(trail) -> None:
    filters = ActivityFilters(product_id=trail.mug.id)
    assert [r.id for r in activity.iter_activity(trail.owner, filters)] == ids(
        activity.list_activity(trail.owner, filters))


@pytest.mark.parametrize("value, text", [
    (None, "—"), (True, "Yes"), (1500, "1,500"), (["a", "b"], "a, b"), ([], "none"),
    ("x" * 100, "x" * 100),
])
def test_values_read_as_words(value: Any, text: str) -> None:
    assert activity.value_text(value) == text


def test_long_values_are_cut_on_screen_only() -> None:
    change = activity.FieldChange("title", "a" * 200, "b")
    assert change.before_short == "a" * 79 + "…" and change.before == "a" * 200


@pytest.mark.parametrize("kind, ok", [
    ("product", True), ("product.updated", True), ("entry.threshold_set", True),
    ("ledger", False), ("product.", False), ("product.Up", False), ("product.x-y", False),
    ("product.a.b", False), ("", False),
])
def test_kinds_are_an_object_type_or_one_of_its_actions(kind: str, ok: bool) -> None:
    assert activity.is_kind(kind) is ok


def test_actions_read_as_words() -> None:
    assert activity.action_label("product.archived") == "Product archived"
    assert activity.action_label("entry.threshold_set") == "Threshold set"
    assert activity.action_label("location.renamed") == "Location renamed"


def test_a_user_reads_the_changes_to_their_own_account_and_tokens(
    app, admin_actor: Actor, make_user: Callable[..., User],
) -> None:
    from app.services.people import tokens

    me, other = make_user(), make_user()
    mine = tokens.create_token(user_id=me.id, name="laptop")[0]
    theirs = tokens.create_token(user_id=other.id, name="phone")[0]
    write(admin_actor, "user.password_reset", "user", me.id, me.email,
          changes={"password_hash": ("a", "b")})
    write(admin_actor, "token.revoked", "token", mine.id, "laptop", when=datetime(2026, 3, 2))
    write(admin_actor, "token.revoked", "token", theirs.id, "phone")
    write(admin_actor, "user.deactivated", "user", other.id, other.email)

    page = activity.account_changes(me.id)
    assert actions(page) == ["token.revoked", "user.password_reset"]
    assert [(c.label, c.before, c.after) for c in page.rows[1].changes] == [
        ("Password", "(secret)", "(secret)")]


def test_the_kind_choices_leave_out_what_only_platform_admins_can_find(trail) -> None:
    def groups(actor: Actor) -> list[str]:
        return [label for label, _ in activity.kind_options(actor)]

    assert groups(trail.owner) == ["Store", "Location", "Product", "Inventory entry", "Supplier",
                                   "Purchase order", "Member"]
    assert groups(trail.platform)[-2:] == ["User account", "API token"]
    product = dict(activity.kind_options(trail.owner))["Product"]
    assert ("product", "Any product change") in product
    assert ("product.archived", "Product archived") in product
