from __future__ import annotations

from wtforms import StringField
from wtforms.validators import DataRequired, Length

from app.web.forms import Form


class CreateTokenForm(Form):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])


class RevokeTokenForm(Form):
    """Carries only the CSRF token: revoking is a POST."""
