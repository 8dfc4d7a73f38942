from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length


class CreateTokenForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])


class RevokeTokenForm(FlaskForm):
    """Carries only the CSRF token: revoking is a POST."""
