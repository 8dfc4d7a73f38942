"""People: accounts, store memberships, roles and staff permission groups, on both backends.

The rules: `members:manage` is needed (owners, store admins, platform admins); only owners
and platform admins make, change or remove owners; no store loses its last owner; groups
are granted to staff only; another store's ids behave as if they did not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Membership, Store, User
from app.permissions import ADJUST, AUDIT, MEMBERS, READ, RESERVE, Actor, actor_for_user
from app.services import stores
from app.services.errors import (
    Conflict,
    LastOwner,
    NotFound,
    OwnerRequired,
    PermissionDenied,
    ValidationError,
)
from app.services.people import accounts, credentials, members

PASSWORD = "a long enough password"


@pytest.fixture
def people(
    store: Store, make_user: Callable[..., User], actor_of: Callable[[User], Actor]
) -> Any:
    """A store with an owner, a store admin and two staff, as users and actors."""

    class People:
        owner_user = make_user(role="owner", store=store, email="olive@example.test")
        admin_user = make_user(role="admin", store=store, email="adam@example.test")
        staff_user = make_user(role="staff", store=store, email="sam@example.test")
        viewer_user = make_user(role="staff", store=store, grants=(ADJUST,),
                                email="vic@example.test")

    p = People()
    p.owner = actor_of(p.owner_user)
    p.admin = actor_of(p.admin_user)
    p.staff = actor_of(p.staff_user)
    p.platform = actor_of(make_user(platform_admin=True))
    p.store_id = store.id
    return p


def membership_of(user: User, store: Store) -> Membership | None:
    db.session.rollback()
    found = db.session.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.store_id == store.id)
    )
    db.session.rollback()
    return found


def mid(user: User, store: Store) -> int:
    found = membership_of(user, store)
    assert found is not None
    return found.id


def roles(store: Store) -> dict[str, str]:
    rows = db.session.execute(
        select(User.email, Membership.role).join(Membership, Membership.user_id == User.id)
        .where(Membership.store_id == store.id)
    ).all()
    db.session.rollback()
    return {r.email: r.role for r in rows}


# --------------------------------------------------------------------------- listing


def test_members_are_listed_owners_first_with_their_groups(store, people):
    page = members.store_members(people.admin, store.id)

    assert [(m.email, m.role) for m in page.members] == [
        ("olive@example.test", "owner"),
        ("adam@example.test", "admin"),
        ("sam@example.test", "staff"),
        ("vic@example.test", "staff"),
    ]
    vic = page.members[-1]
    assert vic.grants == (ADJUST,)
    assert vic.grant_labels == ["Adjust stock (adjust, set, count, transfer, return)"]
    assert page.owner_count == 1
    assert page.manages_owners is False
    assert members.store_members(people.owner, store.id).manages_owners is True
    assert members.store_members(people.platform, store.id).manages_owners is True


def test_staff_may_not_see_the_member_list(store, people):
    with pytest.raises(PermissionDenied):
        members.store_members(people.staff, store.id)


def test_another_stores_members_are_not_found(store, people, make_store, member):
    other = make_store()
    member(other, "owner")
    for actor in (people.owner, people.admin, people.staff):
        with pytest.raises(NotFound):
            members.store_members(actor, other.id)
    with pytest.raises(NotFound):
        members.store_members(people.platform, 999_999)
    with pytest.raises(NotFound):
        members.store_members(people.owner, "1")  # type: ignore[arg-type]


def test_a_membership_of_another_store_is_not_found_through_this_one(
    store, people, make_store, make_user, refused
):
    other = make_store()
    stranger = make_user(role="staff", store=other)
    foreign = mid(stranger, other)
    with refused(NotFound, "Member not found."):
        members.change_role(actor=people.owner, store_id=store.id, membership_id=foreign,
                            role="admin")
    with refused(NotFound, "Member not found."):
        members.remove_member(actor=people.owner, store_id=store.id, membership_id=foreign)
    with refused(NotFound, "Member not found."):
        members.set_grants(actor=people.owner, store_id=store.id, membership_id=foreign,
                           grants=[ADJUST])
    with refused(NotFound, "Store not found."):
        members.remove_member(actor=people.owner, store_id=other.id, membership_id=foreign)


def test_managed_stores_are_where_the_actor_holds_members_manage(
    store, people, make_store, member
):
    other = make_store("Zeta")
    member(other, "staff")
    assert [s.id for s in members.managed_stores(people.owner)] == [store.id]
    assert [s.id for s in members.managed_stores(people.admin)] == [store.id]
    assert members.managed_stores(people.staff) == []
    assert {s.id for s in members.managed_stores(people.platform)} == {store.id, other.id}


# --------------------------------------------------------------------------- adding


def test_an_admin_adds_an_existing_user_as_staff_with_groups(store, people, make_user):
    newcomer = make_user(email="nia@example.test")

    change = members.add_member(actor=people.admin, store_id=store.id,
                                email="  NIA@example.test ", role="staff",
                                grants=[RESERVE, ADJUST, ADJUST])

    assert change.created_user is False
    row = membership_of(newcomer, store)
    assert row is not None and row.role == "staff" and row.grants == [ADJUST, RESERVE]
    assert actor_for_user(newcomer.id).store_permissions[store.id] == {READ, ADJUST, RESERVE}


def test_an_owner_creates_a_new_user_straight_into_the_store(store, people):
    change = members.add_member(actor=people.owner, store_id=store.id,
                                email="new@example.test", role="admin",
                                name="New Person", password=PASSWORD)

    assert change.created_user is True
    user = db.session.scalar(select(User).where(User.email == "new@example.test"))
    assert user is not None and user.name == "New Person" and user.active
    assert credentials.authenticate("new@example.test", PASSWORD) is not None
    assert roles(store)["new@example.test"] == "admin"


def test_a_store_admin_cannot_create_accounts(store, people, refused):
    with refused(ValidationError) as info:
        members.add_member(actor=people.admin, store_id=store.id, email="new@example.test",
                           role="staff", name="New Person", password=PASSWORD)
    assert "Ask an owner" in info.value.fields["email"]


def test_an_unknown_email_without_account_details_names_what_is_missing(
    store, people, refused
):
    with refused(ValidationError) as info:
        members.add_member(actor=people.owner, store_id=store.id, email="ghost@example.test",
                           role="staff")
    assert "fill in a name and an initial password" in info.value.fields["email"]
    with refused(ValidationError, fields={"password": "Use at least 12 characters."}):
        members.add_member(actor=people.owner, store_id=store.id, email="ghost@example.test",
                           role="staff", name="Ghost", password="short")


def test_only_owners_add_owners(store, people, make_user, refused):
    newcomer = make_user(email="nia@example.test")
    with refused(OwnerRequired, "Only an owner of this store can make, change or remove "
                 "owners."):
        members.add_member(actor=people.admin, store_id=store.id, email=newcomer.email,
                           role="owner")
    members.add_member(actor=people.owner, store_id=store.id, email=newcomer.email,
                       role="owner")
    assert roles(store)[newcomer.email] == "owner"


def test_adding_a_member_twice_is_a_conflict(store, people, refused):
    with refused(Conflict, f"sam@example.test is already a member of {store.name}."):
        members.add_member(actor=people.owner, store_id=store.id, email="sam@example.test",
                           role="staff")


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"email": "", "role": "staff"}, {"email": "This field is required."}),
        ({"email": "x@example.test", "role": "boss"}, {"role": "Choose owner, admin or staff."}),
        ({"email": "x@example.test", "role": "admin", "grants": [ADJUST]},
         {"grants": "Permission groups are granted to staff only; choose the staff role or "
                    "clear the groups."}),
        ({"email": "x@example.test", "role": "staff", "grants": [MEMBERS]},
         {"grants": "Unknown permission group: members:manage."}),
        ({"email": "x@example.test", "role": "staff", "grants": ["inventory:everything"]},
         {"grants": "Unknown permission group: inventory:everything."}),
    ],
)
def test_bad_member_input_is_refused_by_field(store, people, refused, fields, errors):
    with refused(ValidationError, fields=errors):
        members.add_member(actor=people.owner, store_id=store.id, **fields)


def test_staff_cannot_add_members(store, people, make_user, refused):
    newcomer = make_user()
    with refused(PermissionDenied):
        members.add_member(actor=people.staff, store_id=store.id, email=newcomer.email,
                           role="staff")


# --------------------------------------------------------------------------- roles


def test_an_owner_makes_an_admin_owner_and_back(store, people):
    admin_mid = mid(people.admin_user, store)
    change = members.change_role(actor=people.owner, store_id=store.id,
                                 membership_id=admin_mid, role="owner")
    assert (change.previous_role, change.member.role) == ("admin", "owner")
    members.change_role(actor=people.owner, store_id=store.id, membership_id=admin_mid,
                        role="staff")
    assert roles(store)["adam@example.test"] == "staff"


@pytest.mark.parametrize("new_role", ["admin", "staff"])
def test_store_admins_cannot_demote_or_remove_owners(store, people, refused, new_role):
    owner_mid = mid(people.owner_user, store)
    with refused(OwnerRequired):
        members.change_role(actor=people.admin, store_id=store.id, membership_id=owner_mid,
                            role=new_role)
    with refused(OwnerRequired):
        members.remove_member(actor=people.admin, store_id=store.id, membership_id=owner_mid)


def test_store_admins_cannot_make_owners_not_even_themselves(store, people, refused):
    for target in (people.staff_user, people.admin_user):
        with refused(OwnerRequired):
            members.change_role(actor=people.admin, store_id=store.id,
                                membership_id=mid(target, store), role="owner")


def test_store_admins_manage_staff_and_admins(store, people):
    staff_mid = mid(people.staff_user, store)
    members.change_role(actor=people.admin, store_id=store.id, membership_id=staff_mid,
                        role="admin")
    members.change_role(actor=people.admin, store_id=store.id, membership_id=staff_mid,
                        role="staff")
    members.remove_member(actor=people.admin, store_id=store.id, membership_id=staff_mid)
    assert membership_of(people.staff_user, store) is None


def test_staff_cannot_change_roles(store, people, refused):
    with refused(PermissionDenied):
        members.change_role(actor=people.staff, store_id=store.id,
                            membership_id=mid(people.viewer_user, store), role="admin")


def test_the_last_owner_cannot_be_demoted(store, people, refused):
    owner_mid = mid(people.owner_user, store)
    message = f"Test User is the last owner of {store.name}; make someone else owner first."
    for actor in (people.owner, people.platform):
        with refused(LastOwner, message):
            members.change_role(actor=actor, store_id=store.id, membership_id=owner_mid,
                                role="admin")


def test_the_last_owner_cannot_be_removed(store, people, refused):
    owner_mid = mid(people.owner_user, store)
    for actor in (people.owner, people.platform):
        with refused(LastOwner):
            members.remove_member(actor=actor, store_id=store.id, membership_id=owner_mid)


def test_with_a_second_owner_the_first_may_step_down(store, people):
    owner_mid = mid(people.owner_user, store)
    members.change_role(actor=people.owner, store_id=store.id,
                        membership_id=mid(people.admin_user, store), role="owner")

    members.change_role(actor=people.owner, store_id=store.id, membership_id=owner_mid,
                        role="admin")

    assert roles(store)["olive@example.test"] == "admin"
    assert roles(store)["adam@example.test"] == "owner"


def test_an_owner_demoted_a_moment_ago_has_lost_owner_powers(store, people, actor_of):
    """The actor was loaded while still an owner; the service judges by the database."""
    members.change_role(actor=people.owner, store_id=store.id,
                        membership_id=mid(people.admin_user, store), role="owner")
    stale_olive = people.owner
    second = actor_of(people.admin_user)
    members.change_role(actor=second, store_id=store.id,
                        membership_id=mid(people.owner_user, store), role="admin")

    with pytest.raises(OwnerRequired):
        members.change_role(actor=stale_olive, store_id=store.id,
                            membership_id=mid(people.admin_user, store), role="admin")
    assert roles(store)["adam@example.test"] == "owner"


def test_leaving_staff_clears_the_granted_groups(store, people):
    viewer_mid = mid(people.viewer_user, store)
    change = members.change_role(actor=people.owner, store_id=store.id,
                                 membership_id=viewer_mid, role="admin")
    assert change.previous_grants == (ADJUST,)
    row = membership_of(people.viewer_user, store)
    assert row is not None and row.grants == []


def test_a_bad_role_is_refused(store, people, refused):
    with refused(ValidationError, fields={"role": "Choose owner, admin or staff."}):
        members.change_role(actor=people.owner, store_id=store.id,
                            membership_id=mid(people.staff_user, store), role="Owner")


# --------------------------------------------------------------------------- groups


def test_granted_groups_replace_the_old_ones_and_take_effect_at_once(store, people):
    viewer_mid = mid(people.viewer_user, store)
    assert actor_for_user(people.viewer_user.id).can(ADJUST, store.id)

    members.set_grants(actor=people.admin, store_id=store.id, membership_id=viewer_mid,
                       grants=[RESERVE, AUDIT])

    fresh = actor_for_user(people.viewer_user.id)
    assert not fresh.can(ADJUST, store.id)
    assert fresh.can(RESERVE, store.id) and fresh.can(AUDIT, store.id)
    members.set_grants(actor=people.admin, store_id=store.id, membership_id=viewer_mid,
                       grants=[])
    assert actor_for_user(people.viewer_user.id).store_permissions[store.id] == {READ}


def test_groups_are_for_staff_only(store, people, refused):
    with refused(ValidationError) as info:
        members.set_grants(actor=people.owner, store_id=store.id,
                           membership_id=mid(people.admin_user, store), grants=[ADJUST])
    assert "granted to staff only" in info.value.fields["grants"]


def test_members_manage_can_never_be_granted(store, people, refused):
    with refused(ValidationError, fields={"grants": "Unknown permission group: "
                                                    "members:manage."}):
        members.set_grants(actor=people.owner, store_id=store.id,
                           membership_id=mid(people.staff_user, store), grants=[MEMBERS])


def test_staff_cannot_grant_themselves_groups(store, people, refused):
    with refused(PermissionDenied):
        members.set_grants(actor=people.staff, store_id=store.id,
                           membership_id=mid(people.staff_user, store), grants=[ADJUST])


# --------------------------------------------------------------------------- removing


def test_removing_a_member_keeps_their_account(store, people):
    change = members.remove_member(actor=people.owner, store_id=store.id,
                                   membership_id=mid(people.staff_user, store))
    assert change.member.email == "sam@example.test"
    assert membership_of(people.staff_user, store) is None
    assert db.session.get(User, people.staff_user.id) is not None
    assert store.id not in actor_for_user(people.staff_user.id).store_permissions


def test_removing_twice_is_not_found(store, people, refused):
    staff_mid = mid(people.staff_user, store)
    members.remove_member(actor=people.owner, store_id=store.id, membership_id=staff_mid)
    with refused(NotFound):
        members.remove_member(actor=people.owner, store_id=store.id, membership_id=staff_mid)


# --------------------------------------------------------------------------- accounts


def test_platform_admins_create_users(people):
    made = accounts.create_account(actor=people.platform, email="Pat@Example.test",
                                   name=" Pat ", password=PASSWORD, platform_admin=True)
    assert (made.email, made.name, made.is_platform_admin, made.active) == (
        "pat@example.test", "Pat", True, True)
    assert "pat@example.test" in {u.email for u in accounts.list_users(people.platform)}


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"email": "", "name": "", "password": ""},
         {"email": "This field is required.", "name": "This field is required.",
          "password": "This field is required."}),
        ({"email": "no-at-sign", "name": "N", "password": PASSWORD},
         {"email": "Enter an email address."}),
        ({"email": "a@b.test", "name": "N", "password": "eleven char"},
         {"password": "Use at least 12 characters."}),
        ({"email": "a@b.test", "name": "N" * 121, "password": PASSWORD},
         {"name": "Must be at most 120 characters."}),
    ],
)
def test_bad_account_input_is_refused_by_field(people, refused, fields, errors):
    with refused(ValidationError, fields=errors):
        accounts.create_account(actor=people.platform, **fields)


def test_a_taken_email_is_a_conflict(people, refused):
    with refused(Conflict, "A user with the email sam@example.test already exists."):
        accounts.create_account(actor=people.platform, email="SAM@example.test", name="S",
                                password=PASSWORD)


def test_only_platform_admins_manage_accounts(people, refused):
    for actor in (people.owner, people.admin, people.staff):
        with pytest.raises(PermissionDenied):
            accounts.list_users(actor)
        with refused(PermissionDenied):
            accounts.create_account(actor=actor, email="x@example.test", name="X",
                                    password=PASSWORD)
        # An account is not found by anyone but a platform admin (see below).
        with refused(NotFound):
            accounts.set_user_active(actor=actor, user_id=people.staff_user.id, active=False)
        with refused(NotFound):
            accounts.reset_password(actor=actor, user_id=people.staff_user.id,
                                    password=PASSWORD)


def test_deactivating_ends_sessions_and_reactivating_restores_sign_in(people):
    user = people.staff_user
    token = user.session_token

    accounts.set_user_active(actor=people.platform, user_id=user.id, active=False)

    db.session.expire_all()
    stored = db.session.get(User, user.id)
    assert stored is not None and not stored.active and stored.session_token != token
    assert actor_for_user(user.id).store_permissions == {}
    accounts.set_user_active(actor=people.platform, user_id=user.id, active=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).active  # type: ignore[union-attr]


def test_nobody_deactivates_themselves(people, refused):
    with refused(Conflict, "You cannot deactivate your own account."):
        accounts.set_user_active(actor=people.platform, user_id=people.platform.user_id,
                                 active=False)


def test_the_last_active_platform_admin_stays(people, admin_actor, refused):
    with refused(Conflict) as info:
        accounts.set_user_active(actor=admin_actor, user_id=people.platform.user_id,
                                 active=False)
    assert "last active platform admin" in info.value.message


def test_a_deactivated_admin_cannot_deactivate_others(people, make_user, actor_of):
    second = make_user(platform_admin=True)
    accounts.set_user_active(actor=actor_of(second), user_id=people.platform.user_id,
                             active=False)
    with pytest.raises(PermissionDenied):
        accounts.set_user_active(actor=people.platform, user_id=second.id, active=False)
    db.session.expire_all()
    assert db.session.get(User, second.id).active  # type: ignore[union-attr]


def test_a_password_reset_rotates_the_session_token(people):
    user = people.staff_user
    token = user.session_token
    accounts.reset_password(actor=people.platform, user_id=user.id, password="brand new secret")
    db.session.expire_all()
    assert db.session.get(User, user.id).session_token != token  # type: ignore[union-attr]
    assert credentials.authenticate(user.email, "brand new secret") is not None


def test_a_short_reset_password_changes_nothing(people, refused):
    with refused(ValidationError, fields={"password": "Use at least 12 characters."}):
        accounts.reset_password(actor=people.platform, user_id=people.staff_user.id,
                                password="short")


def test_unknown_users_are_not_found(people, refused):
    for user_id in (999_999, 0, -1, True):
        with refused(NotFound):
            accounts.set_user_active(actor=people.platform, user_id=user_id, active=False)
        with refused(NotFound):
            accounts.reset_password(actor=people.platform, user_id=user_id, password=PASSWORD)


# --------------------------------------------------------------------------- active owners


def test_the_last_active_owner_cannot_be_deactivated(people, store, refused):
    with refused(LastOwner, f"{people.owner_user.name} is the last active owner of "
                            f"{store.name}; make someone else owner first."):
        accounts.set_user_active(actor=people.platform, user_id=people.owner_user.id,
                                 active=False)


def test_an_owner_with_an_active_co_owner_can_be_deactivated(people, store, make_user):
    make_user(role="owner", store=store)
    accounts.set_user_active(actor=people.platform, user_id=people.owner_user.id,
                             active=False)
    db.session.expire_all()
    assert not db.session.get(User, people.owner_user.id).active  # type: ignore[union-attr]


def test_a_deactivated_co_owner_does_not_count(people, store, make_user, refused):
    """With the other owner deactivated, the remaining active owner can be neither
    deactivated, demoted nor removed; the deactivated one may go."""
    other = make_user(role="owner", store=store)
    accounts.set_user_active(actor=people.platform, user_id=other.id, active=False)
    last = (f"{people.owner_user.name} is the last active owner of {store.name}; make "
            "someone else owner first.")
    with refused(LastOwner, last):
        accounts.set_user_active(actor=people.platform, user_id=people.owner_user.id,
                                 active=False)
    with refused(LastOwner, last):
        members.change_role(actor=people.platform, store_id=store.id,
                            membership_id=mid(people.owner_user, store), role="admin")
    with refused(LastOwner, last):
        members.remove_member(actor=people.platform, store_id=store.id,
                              membership_id=mid(people.owner_user, store))
    members.remove_member(actor=people.platform, store_id=store.id,
                          membership_id=mid(other, store))
    assert roles(store)["olive@example.test"] == "owner"


def test_an_archived_store_does_not_keep_its_owner_active(people, store, admin_actor):
    stores.archive_store(actor=admin_actor, store_id=store.id)
    accounts.set_user_active(actor=people.platform, user_id=people.owner_user.id,
                             active=False)


# --------------------------------------------------------------------------- platform admins


def test_platform_admin_access_is_given_and_taken_away_at_the_next_request(people):
    user = people.staff_user
    made = accounts.set_platform_admin(actor=people.platform, user_id=user.id, admin=True)
    assert made.is_platform_admin and actor_for_user(user.id).is_platform_admin

    taken = accounts.set_platform_admin(actor=people.platform, user_id=user.id, admin=False)
    assert not taken.is_platform_admin
    after = actor_for_user(user.id)
    assert not after.is_platform_admin and after.stores_with(READ) == {people.store_id}


def test_nobody_takes_away_their_own_platform_admin_access(people, make_user, refused):
    make_user(platform_admin=True)  # not the last one: the rule is about oneself
    with refused(Conflict, "You cannot take away your own platform admin access; ask another "
                           "platform admin."):
        accounts.set_platform_admin(actor=people.platform, user_id=people.platform.user_id,
                                    admin=False)


def test_the_last_active_platform_admin_keeps_their_access(people, admin_actor, refused):
    with refused(Conflict) as info:
        accounts.set_platform_admin(actor=admin_actor, user_id=people.platform.user_id,
                                    admin=False)
    assert "last active platform admin" in info.value.message


def test_only_platform_admins_change_platform_admin_access(people, refused):
    for actor in (people.owner, people.admin, people.staff):
        with refused(NotFound, "User not found."):
            accounts.set_platform_admin(actor=actor, user_id=people.staff_user.id, admin=True)


@pytest.mark.parametrize("verb", [
    lambda actor, user_id: accounts.get_user(actor, user_id),
    lambda actor, user_id: accounts.set_user_active(actor=actor, user_id=user_id, active=False),
    lambda actor, user_id: accounts.set_platform_admin(actor=actor, user_id=user_id, admin=True),
    lambda actor, user_id: accounts.reset_password(actor=actor, user_id=user_id,
                                                   password="long enough password"),
], ids=["get", "deactivate", "platform-admin", "password"])
def test_an_account_is_not_found_by_anyone_but_a_platform_admin(store, people, refused, verb):
    """404, as /admin answers them and as for an id that does not exist: an owner learns
    nothing about accounts, not even their own staff's."""
    for target in (people.staff_user.id, 999_999):
        with refused(NotFound, "User not found."):
            verb(people.owner, target)
