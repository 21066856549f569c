"""Password hashing at OWASP's recommendation (scrypt N=2^17, r=8, p=1), refused weaker in
production, and older hashes redone at the next login without ending anyone's session."""
from __future__ import annotations

import pytest
from sqlalchemy import select, update
from werkzeug.security import generate_password_hash

from cookiegate import create_app
from cookiegate.auth.login import _dummy_hash
from cookiegate.config import PASSWORD_HASH, ConfigError, from_environment
from cookiegate.extensions import db
from cookiegate.models import User

from .admin_support import Console
from .web_support import PASSWORD, make_user

OWASP = "scrypt:131072:8:1"


def test_the_default_is_owasps_scrypt_recommendation(tmp_path, monkeypatch):
    monkeypatch.delenv("COOKIEGATE_PASSWORD_HASH", raising=False)
    assert PASSWORD_HASH == OWASP
    assert from_environment(str(tmp_path))["COOKIEGATE_PASSWORD_HASH"] == OWASP


@pytest.mark.parametrize("weak", ["scrypt:32768:8:1", "scrypt:131072:4:1", "scrypt", "pbkdf2:sha256:600000", "plain"])
def test_production_refuses_weaker_password_hashing(tmp_path, weak):
    from .conftest import TEST_KEYS

    with pytest.raises(ConfigError, match="COOKIEGATE_PASSWORD_HASH"):
        create_app({"INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", "COOKIEGATE_ENV": "production",
                    "COOKIEGATE_SECRET_KEYS": TEST_KEYS, "COOKIEGATE_PASSWORD_HASH": weak})


def test_a_login_redoes_an_older_hash_and_ends_no_session(make_app, app, site):
    owasp = make_app(COOKIEGATE_PASSWORD_HASH=OWASP)
    make_user("mia@example.dk", sites=[site])
    old = generate_password_hash(PASSWORD)  # werkzeug's default until now: scrypt N=2^15
    assert old.startswith("scrypt:32768:8:1$")

    def stored() -> str:
        db.session.expire_all()
        return db.session.execute(select(User.password_hash)).scalar_one()

    def set_hash(value: str) -> None:
        db.session.execute(update(User).values(password_hash=value))
        db.session.commit()

    set_hash(old)
    first = Console(owasp.test_client(), "mia@example.dk").login()
    assert stored().startswith(OWASP + "$")
    set_hash(old)  # as if another process had not upgraded yet: the next login does it
    second = Console(owasp.test_client(), "mia@example.dk").login()
    upgraded = stored()
    assert upgraded.startswith(OWASP + "$")
    assert first.get("/dashboard/").status_code == 200 and second.get("/dashboard/").status_code == 200
    Console(owasp.test_client(), "mia@example.dk").login()
    assert stored() == upgraded  # current hashes are left alone


def test_an_unknown_email_costs_a_check_at_the_same_parameters():
    assert _dummy_hash(OWASP).startswith(OWASP + "$")
