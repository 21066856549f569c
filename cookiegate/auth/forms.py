"""The forms of the people who log in (Flask-WTF: each carries the session's CSRF token and is
validated on the server). Error messages are English sentences; pages show them in the reader's
language through err() (the console's error texts)."""
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length

from .users import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

REQUIRED = "Required."
TOO_LONG = "At most %(max)d characters."


class LoginForm(FlaskForm):
    email = EmailField("email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("password", validators=[DataRequired(), Length(max=1024)])


class LogoutForm(FlaskForm):
    """Nothing but the CSRF token: logging out is a POST, so no other site can log a user out."""


class NewPasswordForm(FlaskForm):
    """A new password, typed twice (an admin setting someone's password uses this one as it is)."""

    new_password = PasswordField("new_password", validators=[
        InputRequired(REQUIRED), Length(min=MIN_PASSWORD_LENGTH, message="At least %(min)d characters."),
        Length(max=MAX_PASSWORD_LENGTH, message=TOO_LONG)])
    confirm = PasswordField("confirm", validators=[
        InputRequired(REQUIRED), EqualTo("new_password", message="The two passwords differ.")])


class ChangePasswordForm(NewPasswordForm):
    """Your own password: the current one first (a borrowed session alone cannot change it)."""

    current_password = PasswordField("current_password", validators=[InputRequired(REQUIRED), Length(max=MAX_PASSWORD_LENGTH, message=TOO_LONG)])


class ResetPasswordForm(NewPasswordForm):
    """A new password from a one-time reset link; the token rides in the form, not the URL it posts to."""

    token = HiddenField("token", validators=[InputRequired(REQUIRED), Length(max=500, message=TOO_LONG)])


def field_errors(form: FlaskForm) -> dict[str, str]:
    """The first error of each field, as the console's templates show them next to the field."""
    return {name: messages[0] for name, messages in form.errors.items() if messages}
