"""The base of every form: unreadable text is named beside its field before any validator,
service or query sees it."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm

from app.services.validation import unsafe_character


class Form(FlaskForm):
    """A FlaskForm that refuses a control character or an unpaired surrogate in any field
    with a message beside that field (the request-wide gate in app/web/boundary.py leaves
    form values to this, so the user sees the error where they typed)."""

    def validate(self, extra_validators: Any = None) -> bool:
        unreadable: dict[str, str] = {}
        for name, field in self._fields.items():
            for value in field.raw_data or ():
                problem = unsafe_character(value) if isinstance(value, str) else None
                if problem is not None:
                    unreadable[name] = problem
                    break
        if unreadable:
            # The other fields are not validated: their validators may look values up.
            for name, field in self._fields.items():
                field.errors = [unreadable[name]] if name in unreadable else []
            return False
        return bool(super().validate(extra_validators))
