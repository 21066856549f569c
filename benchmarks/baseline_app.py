"""Baselines for benchmarks/api_throughput.py: the least a Flask app can do for the same job.

- GET /constant: a bare route answering a constant JSON body (the decision's baseline).
- POST /insert: a bare route parsing a JSON body and inserting one comparable row
  through Flask-SQLAlchemy (the consent POST's baseline), on the same database
  settings as cookiegate (SQLite: WAL, synchronous=FULL).
"""
import datetime as dt
import json
import os
import sqlite3

from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, Boolean, DateTime, Integer, String, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Row(db.Model):
    __tablename__ = "baseline_rows"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consent_id: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    choices: Mapped[dict] = mapped_column(JSON)
    method: Mapped[str] = mapped_column(String(16))
    page_url: Mapped[str] = mapped_column(String(2048))
    gpc: Mapped[bool] = mapped_column(Boolean)
    content_hash: Mapped[str] = mapped_column(String(64))


@event.listens_for(Engine, "connect")
def _pragmas(dbapi_connection, record):
    if isinstance(dbapi_connection, sqlite3.Connection):
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000"):
            dbapi_connection.execute(f"PRAGMA {pragma}")


CONSTANT = {
    "status": "given", "consent_id": "0" * 32, "policy_version": 1,
    "choices": {"necessary": True, "statistics": True, "marketing": False},
    "tags": {"google_analytics": True, "facebook_pixel": False},
    "consent_mode": {"ad_storage": "denied", "analytics_storage": "granted", "ad_user_data": "denied",
                     "ad_personalization": "denied", "functionality_storage": "granted",
                     "personalization_storage": "denied", "security_storage": "granted"},
    "show_banner": False,
}


def create_app():
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["BASELINE_DATABASE_URL"]
    db.init_app(app)
    with app.app_context():
        db.create_all()

    @app.get("/constant")
    def constant():
        return jsonify(CONSTANT)

    @app.post("/insert")
    def insert():
        body = json.loads(request.get_data())
        row = Row(consent_id=os.urandom(16).hex(), created_at=dt.datetime.now(dt.timezone.utc), choices=body["choices"],
                  method=body["method"], page_url=body["url"], gpc=body["gpc"], content_hash="0" * 64)
        db.session.add(row)
        db.session.commit()
        return jsonify(consent_id=row.consent_id), 201

    return app


app = create_app()
