"""The command line: `flask --app wsgi cookiegate <command>`."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from sqlalchemy import func, select

from cookiegate.auth.users import hash_token
from cookiegate.demo import DEMO_KEY
from cookiegate.extensions import db
from cookiegate.models import ApiToken, AuditEvent, ConsentRecord, Site, User

from .conftest import TEST_KEYS
from .support import ROOT, chained, impressions
from .web_support import csrf_token


def run(runner, *args, **kwargs):
    return runner.invoke(args=["cookiegate", *args], **kwargs)


def test_create_site_prints_the_key_last_and_sets_up_categories_and_services(runner):
    result = run(runner, "create-site", "Energi Nord", "--origin", "https://www.energinord.dk", "--origin", "https://energinord.dk/",
                 "--ga", "G-AB12CD34", "--fb", "998877665544")
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    site = db.session.execute(select(Site).where(Site.key == key)).scalar_one()
    assert site.name == "Energi Nord"
    assert site.origins == ["https://energinord.dk", "https://www.energinord.dk"]
    assert [c.slug for c in site.categories] == ["necessary", "statistics", "marketing"]
    assert {s.key: s.category.slug for s in site.services} == {"google_analytics": "statistics", "facebook_pixel": "marketing"}
    assert db.session.execute(select(AuditEvent.action).where(AuditEvent.site_id == site.id)).scalars().all() == ["site.create"]


def test_create_site_refuses_bad_origins_and_ids(runner):
    for args in (
        ["--origin", "ftp://shop.example.dk"],
        ["--origin", "https://shop.example.dk/path"],
        ["--origin", "https://shop.example.dk", "--ga", "UA-1234-1"],
        ["--origin", "https://shop.example.dk", "--fb", "pixel"],
    ):
        result = run(runner, "create-site", "Bad", *args)
        assert result.exit_code != 0
        assert "Error" in result.output
    assert db.session.execute(select(func.count()).select_from(Site)).scalar_one() == 0


def test_create_site_checks_what_the_console_checks_and_names_every_wrong_option(runner):
    result = run(runner, "create-site", "Shop", "--origin", "https://shop.example.dk",
                 "--privacy-policy", "javascript:alert(1)", "--lang", "not a language!")
    assert result.exit_code == 1
    assert "--privacy-policy: Only http:// and https:// addresses are allowed." in result.output
    assert "--lang: Languages are codes such as da or en" in result.output
    for bad in (["--privacy-policy", "data:text/html,hi"], ["--lang", "en", "--lang", "x" * 40],
                ["--colour", "text=#ffffff"], ["--ga", "G-1"]):
        assert run(runner, "create-site", "Shop", "--origin", "https://shop.example.dk", *bad).exit_code == 1, bad
    assert run(runner, "create-site", "\x07", "--origin", "https://shop.example.dk").exit_code == 1
    assert db.session.execute(select(func.count()).select_from(Site)).scalar_one() == 0
    # What passes is stored as the console stores it: languages lower-cased, the first the default.
    assert run(runner, "create-site", "Shop", "--origin", "https://shop.example.dk", "--lang", "EN", "--lang", "da",
               "--privacy-policy", "https://shop.example.dk/privacy").exit_code == 0
    site = db.session.execute(select(Site)).scalar_one()
    assert (site.languages, site.default_language, site.privacy_policy_url) == (["en", "da"], "en", "https://shop.example.dk/privacy")


def test_create_user_with_password_from_stdin(runner, site):
    result = run(runner, "create-user", "Marketing@Example.dk", "--role", "marketer", "--site", site.key, "--password-stdin",
                 input="correct horse battery\n")
    assert result.exit_code == 0, result.output
    user = db.session.execute(select(User)).scalar_one()
    assert user.email == "marketing@example.dk" and user.role == "marketer"
    assert [s.key for s in user.sites] == [site.key]
    assert "correct horse" not in user.password_hash


def test_create_user_prompts_for_the_password_twice(runner):
    result = run(runner, "create-user", "admin@example.dk", "--role", "admin", input="long enough pw\nlong enough pw\n")
    assert result.exit_code == 0, result.output
    assert db.session.execute(select(User.role)).scalar_one() == "admin"


def test_create_user_refuses_short_passwords_unknown_sites_and_duplicates(runner, site):
    assert run(runner, "create-user", "a@example.dk", "--role", "admin", "--password-stdin", input="short\n").exit_code != 0
    assert run(runner, "create-user", "a@example.dk", "--role", "admin", "--site", "nope", "--password-stdin", input="long enough pw\n").exit_code != 0
    assert run(runner, "create-user", "a@example.dk", "--role", "admin", "--password-stdin", input="long enough pw\n").exit_code == 0
    assert run(runner, "create-user", "A@example.dk", "--role", "admin", "--password-stdin", input="long enough pw\n").exit_code != 0
    assert run(runner, "create-user", "b@example.dk", "--role", "owner", "--password-stdin", input="long enough pw\n").exit_code != 0


def test_create_token_prints_it_once_and_keeps_only_its_hash(runner, site):
    run(runner, "create-user", "m@example.dk", "--role", "marketer", "--site", site.key, "--password-stdin", input="long enough pw\n")
    result = run(runner, "create-token", "m@example.dk")
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("cg_") and len(token) > 40
    stored = db.session.execute(select(ApiToken)).scalar_one()
    assert stored.token_hash == hash_token(token)
    assert token not in json.dumps([stored.token_hash, stored.prefix])
    assert run(runner, "create-token", "nobody@example.dk").exit_code != 0


def test_bump_policy_raises_the_version(runner, site):
    result = run(runner, "bump-policy", site.key)
    assert result.exit_code == 0 and "2" in result.output
    db.session.expire_all()
    assert db.session.get(Site, site.id).policy_version == 2
    assert run(runner, "bump-policy", "nope").exit_code != 0


def test_demo_creates_a_site_with_chained_sample_data_and_is_safe_to_rerun(runner):
    first = run(runner, "demo", "--days", "5")
    assert first.exit_code == 0, first.output
    assert first.output.strip().splitlines()[-1] == DEMO_KEY
    site = db.session.execute(select(Site).where(Site.key == DEMO_KEY)).scalar_one()
    records = db.session.execute(select(ConsentRecord).order_by(ConsentRecord.seq)).scalars().all()
    assert len(records) > 50
    assert {r.method for r in records} == {"accept_all", "reject_all", "custom"}
    assert len({r.city for r in records}) > 3 and any(r.is_bot for r in records)
    assert chained(records, site.key)
    assert impressions(site.id)[""] > len(records)
    second = run(runner, "demo", "--days", "5")
    assert second.exit_code == 0
    assert db.session.execute(select(func.count()).select_from(ConsentRecord)).scalar_one() == len(records)


def test_demo_prints_a_marketer_and_an_administrator_who_can_log_in(runner, app):
    from cookiegate.demo import DEMO_ADMIN, DEMO_ADMIN_PASSWORD, DEMO_MARKETER, DEMO_PASSWORD

    result = run(runner, "demo", "--days", "2")
    assert result.exit_code == 0, result.output
    assert DEMO_ADMIN_PASSWORD in result.output and DEMO_PASSWORD in result.output and "/admin/" in result.output
    roles = dict(db.session.execute(select(User.email, User.role)).all())
    assert roles == {DEMO_MARKETER: "marketer", DEMO_ADMIN: "admin"}
    console = app.test_client()
    with app.app_context():  # as tests/admin_support.py does: each request its own g
        token = csrf_token(console.get("/login").text)
    with app.app_context():
        answer = console.post("/login", data={"email": DEMO_ADMIN, "password": DEMO_ADMIN_PASSWORD, "csrf_token": token})
    assert answer.status_code == 303
    with app.app_context():
        assert console.get("/admin/").status_code == 200


def test_demo_makes_no_logins_on_a_production_service(make_app):
    production = make_app(COOKIEGATE_ENV="production")
    result = production.test_cli_runner().invoke(args=["cookiegate", "demo", "--days", "1"])
    assert result.exit_code == 0, result.output
    assert "No demo logins in production" in result.output and "fjordkaffe-" not in result.output
    with production.app_context():
        assert db.session.execute(select(func.count()).select_from(User)).scalar_one() == 0


def test_flask_app_wsgi_cookiegate_works_as_a_real_command(migrated, instance_dir, app):
    env = dict(os.environ, COOKIEGATE_DATABASE_URL=migrated, COOKIEGATE_SECRET_KEYS=",".join(TEST_KEYS),
               COOKIEGATE_INSTANCE_PATH=str(instance_dir), COOKIEGATE_ENV="production")
    flask = os.path.join(os.path.dirname(sys.executable), "flask")
    result = subprocess.run([flask, "--app", "wsgi", "cookiegate", "create-site", "Sub", "--origin", "https://sub.example.dk"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip().splitlines()[-1]
    assert db.session.execute(select(Site.name).where(Site.key == key)).scalar_one() == "Sub"


def test_site_keys_are_safe_command_line_arguments():
    from cookiegate.sites.site import SITE_KEY_PATTERN, new_site_key

    keys = {new_site_key() for _ in range(2000)}
    assert len(keys) == 2000
    assert all(SITE_KEY_PATTERN.match(k) and k.isalnum() for k in keys)
