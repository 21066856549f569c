"""The consent log holds up against someone who can write to the database but lacks the
checkpoint key: every alteration made with SQL is named by verify-log (SQLite and PostgreSQL)."""
from __future__ import annotations

import base64
import datetime as dt
import json
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, func, select, text, update

from cookiegate.extensions import db
from cookiegate.models import ConsentRecord, LogCheckpoint, Site
from cookiegate.proof.checkpoints import parse_line, sign
from cookiegate.proof.keys import CheckpointKeys, checkpoint_keys, key_id, public_pem
from cookiegate.proof.ledger import PAYLOAD_FIELDS, chain_hash, genesis, payload_hash, seal_many

from .support import chained, consent_body, post_consent

RECORDS = db.metadata.tables["consent_records"]


def run(runner, *args):
    return runner.invoke(args=["cookiegate", *args])


def record_consents(client, site, count: int) -> list[dict]:
    answers = []
    for i in range(count):
        body = consent_body(method=("accept_all", "reject_all", "custom")[i % 3], choices=None if i % 3 != 2 else {"statistics": True})
        response = post_consent(client, site.key, body)
        assert response.status_code == 201
        answers.append(response.get_json())
    return answers


def checkpoint(runner, site) -> str:
    result = run(runner, "checkpoint", "--site", site.key)
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


def verify(runner, *args):
    result = run(runner, "verify-log", *args)
    return result.exit_code, result.output


def rows():
    return db.session.execute(select(ConsentRecord).order_by(ConsentRecord.seq)).scalars().all()


def consent_at(seq: int) -> str:
    return db.session.execute(select(ConsentRecord.consent_id).where(ConsentRecord.seq == seq)).scalar_one()


def rewrite_from(site, seq: int, **changes) -> None:
    """What an attacker without the key does: change a record, then recompute its payload hash,
    every later chain hash and the site's head, so the chain itself checks out again."""
    db.session.execute(update(RECORDS).where(RECORDS.c.site_id == site.id, RECORDS.c.seq == seq).values(**changes))
    recompute_chain(site)


def recompute_chain(site) -> None:
    table = RECORDS
    records = db.session.execute(select(table).where(table.c.site_id == site.id).order_by(table.c.seq)).mappings().all()
    head = ""
    for record, (seq, payload, head) in zip(records, seal_many(site.key, "", 1, [[r[f] for f in PAYLOAD_FIELDS] for r in records])):
        db.session.execute(
            update(table).where(table.c.id == record["id"]).values(seq=seq, payload_hash=payload, chain_hash=head)
        )
    db.session.execute(update(Site.__table__).where(Site.__table__.c.id == site.id).values(log_head=head, log_seq=len(records)))
    db.session.commit()


@pytest.fixture
def signed_log(client, runner, site):
    """Six consents, a checkpoint over them, then two more (after the checkpoint)."""
    answers = record_consents(client, site, 6)
    line = checkpoint(runner, site)
    answers += record_consents(client, site, 2)
    return answers, line


def test_an_untouched_log_is_green_when_signed_and_amber_after_new_records(client, runner, site):
    record_consents(client, site, 3)
    code, output = verify(runner)
    assert code == 0 and f"{site.key}: amber" in output and "no checkpoint yet" in output
    line = checkpoint(runner, site)
    assert line.startswith(f"cookiegate-checkpoint/1 site={site.key} seq=3 ")
    code, output = verify(runner, "--site", site.key)
    assert code == 0 and f"{site.key}: green, 3 records verified; signed up to seq 3" in output
    record_consents(client, site, 1)
    code, output = verify(runner)
    assert code == 0 and "amber" in output and "1 record(s) after it not yet signed" in output


def test_checkpoint_prints_one_line_per_site_stores_it_and_skips_an_unchanged_head(client, runner, site):
    from .support import make_site

    other = make_site(["https://other.example.dk"])
    record_consents(client, site, 2)
    post_consent(client, other.key, origin="https://other.example.dk")
    result = run(runner, "checkpoint")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert sorted(parse_line(line).site for line in lines) == sorted([site.key, other.key])
    assert db.session.execute(select(func.count()).select_from(LogCheckpoint)).scalar_one() == 2
    again = run(runner, "checkpoint", "--site", site.key)
    assert again.exit_code == 0 and "unchanged" in again.output
    assert db.session.execute(select(func.count()).select_from(LogCheckpoint)).scalar_one() == 2
    stored = db.session.execute(select(LogCheckpoint).where(LogCheckpoint.site_id == site.id)).scalar_one()
    parsed = parse_line(again.stdout.strip().splitlines()[-1])
    assert (parsed.seq, parsed.head, parsed.signature) == (2, stored.head, stored.signature)
    assert stored.head == db.session.get(Site, site.id).log_head


def test_a_checkpoint_line_verifies_independently_with_openssl(client, runner, site, tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    record_consents(client, site, 2)
    line = checkpoint(runner, site)
    shown = run(runner, "checkpoint-key").output
    pem = shown[shown.index("-----BEGIN PUBLIC KEY-----"):shown.index("-----END PUBLIC KEY-----") + len("-----END PUBLIC KEY-----")]
    (tmp_path / "pub.pem").write_text(pem + "\n")
    message, signature = line.split(" sig=")
    (tmp_path / "msg").write_bytes(message.encode())
    (tmp_path / "sig").write_bytes(base64.urlsafe_b64decode(signature + "=="))
    command = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "msg", "-sigfile", "sig"]
    assert subprocess.run(command, cwd=tmp_path, capture_output=True).returncode == 0
    (tmp_path / "msg").write_bytes(message.replace("seq=2", "seq=1").encode())
    assert subprocess.run(command, cwd=tmp_path, capture_output=True).returncode != 0


@pytest.mark.parametrize(
    "column, value",
    [
        ("choices", {"necessary": True, "statistics": True, "marketing": True}),
        ("method", "accept_all"),
        ("created_at", dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone.utc)),
        ("city", "Aarhus"),
    ],
)
def test_a_field_changed_with_sql_is_named(signed_log, runner, site, column, value):
    victim = consent_at(3)
    db.session.execute(update(RECORDS).where(RECORDS.c.site_id == site.id, RECORDS.c.seq == 3).values({column: value}))
    db.session.commit()
    code, output = verify(runner)
    assert code == 1
    assert f"{site.key}: RED" in output
    assert f"seq 3 (consent {victim}): record altered" in output


def test_a_plain_sql_update_of_the_method_is_named(signed_log, runner, site):
    victim = consent_at(2)
    db.session.execute(text("UPDATE consent_records SET method = 'accept_all' WHERE seq = 2"))
    db.session.commit()
    code, output = verify(runner)
    assert code == 1 and f"seq 2 (consent {victim}): record altered" in output


def test_a_deleted_record_is_named_by_its_seq(signed_log, runner, site):
    db.session.execute(text("DELETE FROM consent_records WHERE seq = 4"))
    db.session.commit()
    code, output = verify(runner)
    assert code == 1 and "seq 4: record seq 4 missing (deleted)" in output
    assert "checkpoint" not in output.split("seq 4: record")[0]


def test_deleting_the_newest_records_and_moving_the_head_back_is_caught_by_the_checkpoint(signed_log, runner, site):
    db.session.execute(delete(RECORDS).where(RECORDS.c.seq > 4))
    db.session.commit()
    recompute_chain(site)  # head and seq now say the log ends at 4
    code, output = verify(runner)
    assert code == 1 and "names seq 6, beyond the end of the log: records were deleted" in output


def test_a_forged_record_appended_with_sql_is_named(signed_log, runner, site):
    last = rows()[-1]
    forged = {name: getattr(last, name) for name in PAYLOAD_FIELDS}
    forged.update(consent_id="f" * 32, method="accept_all", choices={"necessary": True, "statistics": True, "marketing": True})
    payload = payload_hash([forged[name] for name in PAYLOAD_FIELDS])
    db.session.execute(
        RECORDS.insert().values(site_id=site.id, seq=last.seq + 1, payload_hash=payload, chain_hash="0" * 64, **forged)
    )
    db.session.execute(update(Site.__table__).where(Site.__table__.c.id == site.id).values(log_seq=last.seq + 1, log_head="0" * 64))
    db.session.commit()
    code, output = verify(runner)
    assert code == 1 and f"seq {last.seq + 1} (consent {'f' * 32}): chain broken" in output


def test_a_record_inserted_behind_the_heads_back_is_named(signed_log, runner, site):
    last = rows()[-1]
    forged = {name: getattr(last, name) for name in PAYLOAD_FIELDS}
    forged["consent_id"] = "e" * 32
    payload = payload_hash([forged[name] for name in PAYLOAD_FIELDS])
    db.session.execute(
        RECORDS.insert().values(
            site_id=site.id, seq=last.seq + 1, payload_hash=payload, chain_hash=chain_hash(last.chain_hash, last.seq + 1, payload), **forged
        )
    )
    db.session.commit()
    code, output = verify(runner)
    assert code == 1 and f"records up to seq {last.seq + 1} lie beyond the site's head" in output


def test_a_rewrite_with_every_later_hash_and_the_head_recomputed_is_caught_by_the_checkpoint(signed_log, runner, site):
    """The attack from the issue: `custom` turned into `accept_all`, the chain recomputed without the key."""
    db.session.expire_all()
    assert chained(rows(), site.key)
    rewrite_from(site, 3, method="accept_all", choices={"necessary": True, "statistics": True, "marketing": True})
    db.session.expire_all()
    assert chained(rows(), site.key)  # the chain alone no longer shows it
    code, output = verify(runner)
    assert code == 1
    assert "seq 6: does not match the stored checkpoint" in output and "records after seq 0 up to 6 were rewritten" in output


def test_a_forged_record_slipped_into_the_middle_is_caught_by_the_checkpoint(signed_log, runner, site):
    table = RECORDS
    for seq in range(8, 2, -1):  # make room at seq 3, highest first (unique seq)
        db.session.execute(update(table).where(table.c.site_id == site.id, table.c.seq == seq).values(seq=seq + 1))
    template = db.session.execute(select(table).where(table.c.seq == 4)).mappings().one()
    forged = {name: template[name] for name in PAYLOAD_FIELDS}
    forged["consent_id"] = "d" * 32
    db.session.execute(table.insert().values(site_id=site.id, seq=3, payload_hash="", chain_hash="", **forged))
    db.session.commit()
    recompute_chain(site)
    code, output = verify(runner)
    assert code == 1 and "does not match the stored checkpoint" in output


def test_deleted_checkpoints_do_not_hide_a_rewrite_from_an_archived_line(signed_log, runner, site, tmp_path):
    _, line = signed_log
    rewrite_from(site, 2, method="accept_all", choices={"necessary": True, "statistics": True, "marketing": True})
    db.session.execute(delete(LogCheckpoint))
    db.session.commit()
    code, output = verify(runner)
    assert code == 0 and "amber" in output  # without the line, it only looks unsigned
    code, output = verify(runner, "--checkpoint", line)
    assert code == 1 and "does not match the given checkpoint" in output
    archive = tmp_path / "checkpoints.txt"
    archive.write_text(line + "\n")
    code, output = verify(runner, "--checkpoint-file", str(archive))
    assert code == 1 and "does not match the given checkpoint" in output


def test_a_checkpoint_forged_in_the_database_is_red(signed_log, runner, site):
    stranger = CheckpointKeys(Ed25519PrivateKey.generate())
    head = db.session.get(Site, site.id).log_head
    forged = sign(stranger, site.key, 8, head)
    db.session.add(LogCheckpoint(site_id=site.id, seq=8, head=head, signed_at=forged.signed_at, key_id=forged.key, signature=forged.signature))
    db.session.commit()
    code, output = verify(runner)
    assert code == 1 and "signed with an unknown key" in output
    mine = checkpoint_keys()
    row = db.session.execute(select(LogCheckpoint).where(LogCheckpoint.seq == 8)).scalar_one()
    row.key_id = key_id(mine.signing.public_key())
    db.session.commit()
    code, output = verify(runner)
    assert code == 1 and "the signature does not match" in output


def test_a_tampered_log_is_not_signed_by_checkpoint(signed_log, runner, site):
    db.session.execute(text("UPDATE consent_records SET gpc = NOT gpc WHERE seq = 7"))
    db.session.commit()
    before = db.session.execute(select(func.count()).select_from(LogCheckpoint)).scalar_one()
    result = run(runner, "checkpoint")
    assert result.exit_code == 1 and "NOT signed" in result.output and "seq 7" in result.output
    assert db.session.execute(select(func.count()).select_from(LogCheckpoint)).scalar_one() == before


def test_malformed_checkpoint_lines_are_refused_clearly(signed_log, runner):
    code, output = verify(runner, "--checkpoint", "hello")
    assert code != 0 and "not a checkpoint line" in output
    _, line = signed_log
    code, output = verify(runner, "--checkpoint", line.replace(line.split("site=")[1].split()[0], "nosuchsite"))
    assert code != 0 and "unknown sites: nosuchsite" in output


def test_verify_log_reports_json(signed_log, runner, site):
    result = run(runner, "verify-log", "--json")
    assert result.exit_code == 0
    (report,) = json.loads(result.output)["sites"]
    assert report["status"] == "amber" and report["signed_upto"] == 6 and report["unsigned"] == 2 and report["records"] == 8


def test_the_chain_binds_records_to_their_site(site):
    assert genesis(site.key) != genesis(site.key + "x")
    assert chain_hash(genesis(site.key), 1, "a" * 64) != chain_hash(genesis(site.key), 2, "a" * 64)


def invoke_in(app, *args):
    """Run a command in another app (another configuration), as its own process would."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=["cookiegate", *args])


def test_checkpoint_without_a_key_in_production_says_what_to_set(make_app, tmp_path, site):
    production = make_app(COOKIEGATE_ENV="production", INSTANCE_PATH=str(tmp_path))
    result = invoke_in(production, "checkpoint")
    assert result.exit_code != 0 and "COOKIEGATE_CHECKPOINT_KEY_FILE" in result.output
    assert not (tmp_path / "checkpoint_key.pem").exists()


def test_the_key_comes_from_a_file_or_the_environment_and_old_public_keys_still_verify(make_app, runner, client, site, tmp_path):
    from cookiegate.proof.keys import private_pem, public_text

    record_consents(client, site, 1)
    old_line = checkpoint(runner, site)
    old_public = checkpoint_keys().signing.public_key()
    new_file = tmp_path / "new.pem"
    created = run(runner, "checkpoint-key", "--new", str(new_file))
    assert created.exit_code == 0 and new_file.stat().st_mode & 0o077 == 0
    rotated = make_app(COOKIEGATE_CHECKPOINT_KEY_FILE=str(new_file), COOKIEGATE_CHECKPOINT_PUBLIC_KEYS=[public_text(old_public)])
    assert invoke_in(rotated, "verify-log", "--checkpoint", old_line).exit_code == 0
    shown = invoke_in(rotated, "checkpoint-key").output
    assert public_pem(old_public) not in shown and str(new_file) in shown
    record_consents(client, site, 1)
    new_line = invoke_in(rotated, "checkpoint").stdout.strip()
    assert parse_line(new_line).key != parse_line(old_line).key
    without_old = make_app(COOKIEGATE_CHECKPOINT_KEY_FILE=str(new_file))
    result = invoke_in(without_old, "verify-log", "--checkpoint", old_line)
    assert result.exit_code == 1 and "unknown key" in result.output
    raw = base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode()
    from_env = make_app(COOKIEGATE_CHECKPOINT_KEY=raw)
    assert invoke_in(from_env, "checkpoint-key").exit_code == 0
    assert invoke_in(make_app(COOKIEGATE_CHECKPOINT_KEY="not a key"), "checkpoint").exit_code != 0
    pem = private_pem(Ed25519PrivateKey.generate()).decode()
    assert invoke_in(make_app(COOKIEGATE_CHECKPOINT_KEY=pem), "checkpoint-key").exit_code == 0


def test_checkpoint_refuses_to_anchor_on_a_checkpoint_forged_into_the_table(signed_log, runner, site):
    """A fake 'latest checkpoint' must not make checkpoint skip (and then sign) a rewritten log."""
    rewrite_from(site, 2, method="accept_all", choices={"necessary": True, "statistics": True, "marketing": True})
    head = db.session.get(Site, site.id).log_head
    fake = sign(CheckpointKeys(Ed25519PrivateKey.generate()), site.key, 7, rows()[6].chain_hash)
    db.session.add(LogCheckpoint(site_id=site.id, seq=7, head=fake.head, signed_at=fake.signed_at,
                                 key_id=key_id(checkpoint_keys().signing.public_key()), signature=fake.signature))
    db.session.commit()
    result = run(runner, "checkpoint")
    assert result.exit_code == 1 and "NOT signed" in result.output and "seq 7" in result.output
    assert not db.session.execute(select(LogCheckpoint).where(LogCheckpoint.head == head)).scalars().all()
