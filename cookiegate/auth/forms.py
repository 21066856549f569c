"""Login and logout forms (Flask-WTF: each carries the session's CSRF token)."""
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    email = EmailField("email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("password", validators=[DataRequired(), Length(max=1024)])


class LogoutForm(FlaskForm):
    """Nothing but the CSRF token: logging out is a POST, so no other site can log a user out."""
