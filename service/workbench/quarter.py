"""``/quarter``: check a quarter's plan. An uploaded file (CSV, Parquet or an Excel
workbook) is scored by the same code as ``riskmodel score`` into a job folder under the
data directory; the view, the downloads and the report are read from that run's files."""

from __future__ import annotations

import io
import json
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from flask import current_app, redirect, render_template, request, send_file, url_for
from werkzeug.exceptions import RequestEntityTooLarge

from riskmodel import RiskModelError
from service.auth import key_is_valid
from service.i18n import gettext as _
from service.i18n import locale_of
from service.workbench.blueprint import bp, csrf_ok, lang_args, page_error
from service.workbench.render import render_report

if TYPE_CHECKING:
    from batch import Quarter

SUFFIXES = (".csv", ".parquet", ".xlsx")
JOB = re.compile(r"^[A-Za-z0-9_-]{22}$")
KEEP_SECONDS = 24 * 3600  # a job's files are deleted a day after the upload
_template: dict = {}


def _limit() -> int:
    return current_app.extensions["riskmodel.settings"].max_upload_bytes


def _jobs() -> Path:
    return (Path(current_app.extensions["riskmodel.settings"].data_dir) / "workbench").resolve()


def _too_large(size: int | None):
    mib = _limit() / 2**20
    got = f" ({size / 2**20:.1f} MiB)" if size else ""
    limit = f"{mib:.0f}"
    return page_error(
        413, _("The file is too large for the page"),
        _("The page checks plans up to %(limit)s MiB; this one is larger%(got)s. Score it "
          "with the command line, which streams any size and writes the same report: "
          "riskmodel score --in PLAN --out scored.csv --report report.html",
          limit=limit, got=got),
        back=url_for("workbench.quarter_page", **lang_args()))


def _clean_old(root: Path) -> None:
    if not root.is_dir():
        return
    cutoff = time.time() - KEEP_SECONDS
    for job in root.iterdir():
        try:
            if job.stat().st_mtime < cutoff:
                shutil.rmtree(job, ignore_errors=True)
        except FileNotFoundError:
            pass


@bp.get("/quarter")
def quarter_page():
    """The upload form."""
    return render_template("workbench/quarter_upload.html", active="quarter",
                           limit=_limit(), version=_version(), key_required=current_app
                           .extensions["riskmodel.settings"].scoring_requires_key)


def _version() -> str | None:
    scorer = current_app.extensions["riskmodel.holder"].scorer
    return scorer.version if scorer is not None else None


@bp.post("/quarter")
def quarter_upload():
    """Score the uploaded plan; then show it (303 to the job's page)."""
    from batch import score_file, summarise_quarter  # (pandas, pyarrow): on first use

    back = url_for("workbench.quarter_page", **lang_args())
    if request.content_length is not None and request.content_length > _limit() + 64 * 1024:
        return _too_large(request.content_length)
    request.max_content_length = _limit() + 64 * 1024  # the form's own fields besides
    try:
        upload = request.files.get("plan")
        token_ok = csrf_ok()
    except RequestEntityTooLarge:
        return _too_large(None)
    if not token_ok:
        return page_error(403, _("The form has expired"),
                          _("The upload was refused: the form's security token did not match. "
                            "Reload the page and upload the file again."), back)
    settings = current_app.extensions["riskmodel.settings"]
    if settings.scoring_requires_key and not key_is_valid(
            request.form.get("api_key", ""), current_app.extensions["riskmodel.api_keys"]):
        return page_error(401, _("The API key is not valid"),
                          _("This service scores only with an API key; enter one of its keys "
                            "with the file."), back)
    if upload is None or not upload.filename:
        return page_error(400, _("No file"), _("Choose a plan file to upload."), back)
    suffix = Path(upload.filename).suffix.lower()
    if suffix not in SUFFIXES:
        return page_error(415, _("Not a plan file"),
                          _("The page reads .csv, .parquet and .xlsx files; %(name)s is none "
                            "of them.", name=repr(upload.filename)), back)
    holder = current_app.extensions["riskmodel.holder"]
    scorer = holder.current()
    if scorer is None:
        return page_error(503, _("No model is serving"), holder.unready_reason or "", back)
    root = _jobs()
    _clean_old(root)
    job = secrets.token_urlsafe(16)
    folder = root / job
    folder.mkdir(parents=True)
    src = folder / f"plan{suffix}"
    upload.save(src)
    if src.stat().st_size > _limit():
        shutil.rmtree(folder, ignore_errors=True)
        return _too_large(None)
    try:  # the same run as `riskmodel score` (in this process: no workers to fork)
        # the reasons and mitigations in the language of the page that sent the plan
        scorer = scorer.with_locale(locale_of(request.environ))
        summary = score_file(src, folder / "scored.csv", scorer, top_k=3,
                             rejects=folder / "rejects.csv", workers=1, progress=False)
    except (RiskModelError, ValueError, OSError) as e:
        shutil.rmtree(folder, ignore_errors=True)
        return page_error(422, _("The plan could not be scored"), str(e), back)
    q = summarise_quarter(folder / "scored.csv", summary.rejects_path, bands=scorer.bands,
                          source=upload.filename, locale=scorer.locale)
    (folder / "quarter.json").write_text(json.dumps(q.to_dict()), encoding="utf-8")
    return redirect(url_for("workbench.quarter_view", job=job, **lang_args()), 303)


def _load(job: str) -> tuple[Path, Quarter] | None:
    from batch import Quarter  # (pandas, pyarrow): on first use

    if not JOB.match(job):
        return None
    folder = _jobs() / job
    try:
        data = json.loads((folder / "quarter.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return None
    return folder, Quarter.from_dict(data)


def _gone():
    return page_error(404, _("No such check"),
                      _("This quarter check does not exist or has expired (checks are kept "
                        "for a day). Upload the plan again."),
                      url_for("workbench.quarter_page", **lang_args()))


@bp.get("/quarter/<job>")
def quarter_view(job: str):
    found = _load(job)
    if found is None:
        return _gone()
    _, q = found
    links = {name: url_for("workbench.quarter_file", job=job, name=name)
             for name in ("scored.csv", "scored.xlsx", "rejects.csv", "report.html")}
    return render_template("workbench/quarter.html", active="quarter", q=q, links=links,
                           interactive=True, version=q.model_version)


@bp.get("/quarter/<job>/<name>")
def quarter_file(job: str, name: str):
    """The run's files: the scored CSV, the same as a workbook, the rejects, the report."""
    from batch import write_scored_workbook  # (pandas, pyarrow): on first use

    found = _load(job)
    if found is None:
        return _gone()
    folder, q = found
    stem = Path(q.source).stem or "plan"
    if name == "scored.csv":
        return send_file(folder / "scored.csv", mimetype="text/csv", as_attachment=True,
                         download_name=f"{stem}.scored.csv")
    if name == "rejects.csv":
        path = folder / "rejects.csv"
        if not path.is_file():
            return page_error(404, _("No rejected rows"), _("Every row of this plan was scored."))
        return send_file(path, mimetype="text/csv", as_attachment=True,
                         download_name=f"{stem}.rejects.csv")
    if name == "scored.xlsx":
        path = folder / "scored.xlsx"
        if not path.is_file():
            part = folder / ".scored.xlsx.part"
            write_scored_workbook(folder / "scored.csv", folder / "rejects.csv", part,
                                  actions=q.actions)
            part.replace(path)
        return send_file(path, as_attachment=True, download_name=f"{stem}.scored.xlsx",
                         mimetype="application/vnd.openxmlformats-officedocument."
                                  "spreadsheetml.sheet")
    if name == "report.html":
        page = render_report(q, locale=locale_of(request.environ))
        return send_file(io.BytesIO(page.encode("utf-8")), mimetype="text/html",
                         as_attachment=True, download_name=f"{stem}.report.html")
    return _gone()


@bp.get("/quarter/template.xlsx")
def quarter_template():
    """The plan template, generated from the contract (made once per process)."""
    from batch import template_workbook  # (pandas, pyarrow): on first use

    if "bytes" not in _template:
        buf = io.BytesIO()
        template_workbook(buf)
        _template["bytes"] = buf.getvalue()
    return send_file(io.BytesIO(_template["bytes"]), as_attachment=True,
                     download_name="campaign-plan-template.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument."
                              "spreadsheetml.sheet")
