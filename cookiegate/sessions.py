"""Flask's signed-cookie session, opened only when the request carries a session cookie.

The public API never uses a session, and building the session serializer for
every request costs about a fifth of a small API answer. The login session
(auth/) is this cookie: HttpOnly, SameSite=Lax, Secure when the request came
over https (directly or through a trusted proxy), expiring with the session.
"""
from flask import request
from flask.sessions import SecureCookieSessionInterface


SESSIONLESS_PREFIXES = ("/api/", "/banner/")


class SessionOnDemand(SecureCookieSessionInterface):
    def get_cookie_secure(self, app) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure

    def open_session(self, app, request):
        if "HTTP_COOKIE" not in request.environ or self.get_cookie_name(app) not in request.cookies:
            # The public API and the banner files never start a session: a null session also
            # skips the work of saving one after every answer.
            if request.path.startswith(SESSIONLESS_PREFIXES):
                return self.null_session_class()
            return self.session_class()
        return super().open_session(app, request)
