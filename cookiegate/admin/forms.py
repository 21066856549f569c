"""Flask-WTF forms of the console's user pages (server-side validation, CSRF, errors shown next
to each field in the page's language through err()). A new password uses auth.forms.NewPasswordForm."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from ..auth.forms import REQUIRED, TOO_LONG
from ..auth.users import MAX_TOKEN_NAME, token_name_problem


class TokenForm(FlaskForm):
    """A new API token, named for what it is for."""

    name = StringField("name", filters=[lambda value: value.strip() if isinstance(value, str) else value],
                       validators=[DataRequired(REQUIRED), Length(max=MAX_TOKEN_NAME, message=TOO_LONG)])

    def validate_name(self, field) -> None:
        problem = token_name_problem(field.data or "")
        if problem:
            raise ValidationError(problem)


class DeleteUserForm(FlaskForm):
    """Deleting a user: their e-mail address typed again, so no slip of the mouse deletes anyone."""

    email = StringField("email", validators=[InputRequired(REQUIRED), Length(max=320, message=TOO_LONG)])

    def __init__(self, expected_email: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.expected_email = expected_email

    def validate_email(self, field) -> None:
        if (field.data or "").strip().lower() != self.expected_email:
            raise ValidationError("Type the user's e-mail address to confirm.")
