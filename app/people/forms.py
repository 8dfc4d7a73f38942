"""Forms of the people screens. The member service decides validity; these only parse."""

from __future__ import annotations

from wtforms import BooleanField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from app.services.people.members import GROUP_LABELS, ROLE_LABELS
from app.web.forms import Form

ROLE_CHOICES = [SelectChoice(value, label) for value, label in ROLE_LABELS.items()]
GROUP_CHOICES = [SelectChoice(value, label) for value, label in GROUP_LABELS.items()]


class CreateUserForm(Form):
    email = StringField("Email", validators=[Length(max=254)],
                        render_kw={"autocomplete": "off", "spellcheck": "false"})
    name = StringField("Name", validators=[Length(max=120)], render_kw={"autocomplete": "off"})
    password = PasswordField("Initial password", validators=[Length(max=1024)],
                             render_kw={"autocomplete": "new-password"})
    platform_admin = BooleanField("Platform admin (every store, users and memberships)")


class ResetPasswordForm(Form):
    password = PasswordField("New password", validators=[Length(max=1024)],
                             render_kw={"autocomplete": "new-password"})


class ConfirmForm(Form):
    """Carries only the CSRF token: the second, explicit click of a destructive action."""


class AddMemberForm(Form):
    email = StringField("Email", validators=[Length(max=254)],
                        render_kw={"autocomplete": "off", "spellcheck": "false"})
    role = SelectField("Role", choices=ROLE_CHOICES, default="staff", validate_choice=False)
    grants = SelectMultipleField("Permission groups (staff only)", choices=GROUP_CHOICES,
                                 validate_choice=False)
    name = StringField("Name (new accounts only)", validators=[Length(max=120)],
                       render_kw={"autocomplete": "off"})
    password = PasswordField("Initial password (new accounts only)",
                             validators=[Length(max=1024)],
                             render_kw={"autocomplete": "new-password"})


class RoleForm(Form):
    role = SelectField("Role", choices=ROLE_CHOICES, validate_choice=False)


class GrantsForm(Form):
    grants = SelectMultipleField("Permission groups", choices=GROUP_CHOICES,
                                 validate_choice=False)
