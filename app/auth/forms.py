from __future__ import annotations

from wtforms import EmailField, HiddenField, PasswordField
from wtforms.validators import DataRequired, Length

from app.web.forms import Form


class SignInForm(Form):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    next = HiddenField()
