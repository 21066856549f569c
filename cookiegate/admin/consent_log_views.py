"""The consent log of a site in the console: find a consent (records and receipt), verify the
log, export and erase one consent. The decisions are plain functions in consent_log.py."""
from __future__ import annotations

import json

from flask import Response, current_app, flash, g, redirect, request, url_for

from ..extensions import db
from . import bp, consent_log
from .views import page


@bp.get("/sites/<site_key>/consents")
def consents(site_key: str) -> Response:
    site = g.site
    raw = request.args.get("consent_id", "")
    consent_id = consent_log.normalise_id(raw)
    context = {"site": site, "query": raw, "consent_id": consent_id, "records": [], "receipt": None,
               "log_status": consent_log.log_status(site)}
    status = 200
    if raw and consent_id is None:
        context["errors"] = {"consent_id": "A consent id is 32 letters and digits (0-9, a-f)."}
        status = 422
    elif consent_id:
        context["records"] = consent_log.records(site, consent_id)
        document = consent_log.receipt(site, consent_id)
        context["receipt"] = json.dumps(document, indent=2, ensure_ascii=False) if document else None
        context["erased"] = not context["records"] and consent_log.erased(site, consent_id)
        status = 200 if context["records"] or context["erased"] else 404
    return page("admin/consents.html", status=status, **context)


@bp.post("/sites/<site_key>/consents/verify")
def verify(site_key: str) -> Response:
    """verify-log over the site's log (tens of seconds at a million records): only when asked,
    and stopped after COOKIEGATE_CONSOLE_VERIFY_SECONDS, saying how far it got."""
    verified = consent_log.verify(g.site, g.actor, seconds=current_app.config["COOKIEGATE_CONSOLE_VERIFY_SECONDS"])
    db.session.commit()
    return page("admin/consents.html", site=g.site, query="", consent_id=None, records=[], receipt=None,
                log_status=consent_log.log_status(g.site), verified=verified)


@bp.post("/sites/<site_key>/consents/export")
def export(site_key: str) -> Response:
    site = g.site
    consent_id = consent_log.normalise_id(request.form.get("consent_id"))
    document = consent_log.export(site, consent_id, g.actor) if consent_id else None
    if document is None:
        flash("flash.no_consent", "error")
        return redirect(url_for("admin.consents", site_key=site_key), 303)
    db.session.commit()
    response = Response(json.dumps(document, indent=2, ensure_ascii=False), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="consent-{site.key}-{consent_id}.json"'
    return response


@bp.post("/sites/<site_key>/consents/erase")
def erase(site_key: str) -> Response:
    site = g.site
    consent_id = consent_log.normalise_id(request.form.get("consent_id"))
    if consent_id is None:
        flash("flash.no_consent", "error")
        return redirect(url_for("admin.consents", site_key=site_key), 303)
    if request.form.get("confirm") != "yes":
        return page("admin/erase_confirm.html", site=site, consent_id=consent_id, records=consent_log.records(site, consent_id))
    erased = consent_log.erase(site, consent_id, g.actor)
    db.session.commit()
    flash("flash.erased" if erased else "flash.no_consent", "done" if erased else "error")
    return redirect(url_for("admin.consents", site_key=site_key, consent_id=consent_id), 303)
