"""The workbench's pages through Flask's test client: headers, CSRF, keys, uploads, limits,
escaping. The browser tests (test_workbench_browser.py) drive the same pages in Chromium."""

import io
import re

import pandas as pd
import pytest
from monitoring_data import fill_store, without_reference

from riskmodel import FAMILIES, SCHEMA, Registry, family_label, label, value_label
from service import create_app

XSS = "<script>alert(1)</script>"


@pytest.fixture
def wb(two_versions, tmp_path):
    root, a, b, _ = two_versions
    app = create_app({"artifacts": str(root), "reload_interval": 3600.0,
                      "data_dir": str(tmp_path / "var"), "api_keys": "secret-key",
                      "log_predictions": False})
    return app.test_client(), root, a, b


def _token(client, path="/quarter") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page).group(1)


def _download(client, path):
    """A file response, read and closed (send_file keeps the file open until then)."""
    with client.get(path) as r:
        return r.status_code, r.headers, r.get_data()


def _plan_csv(history_df, n=60) -> bytes:
    df = history_df[list(SCHEMA.names)].head(n).copy()
    df.loc[3, "campaign_id"] = XSS
    df.loc[7, "goal_alignment_score"] = 1.5
    return df.to_csv(index=False).encode()


@pytest.mark.parametrize("path", ["/", "/quarter", "/model", "/monitoring",
                                  "/?campaign_id=x"])
def test_pages_carry_a_content_security_policy(client, path):
    r = client.get(path)
    assert r.status_code == 200 and r.mimetype == "text/html"
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Server-Timing"].startswith("app;dur=")
    page = r.get_data(as_text=True)
    assert "<script>" not in page and " style=" not in page  # nothing inline to allow
    assert "http://" not in page and "https://" not in page  # no CDN


def test_the_api_is_left_as_it_was(client):
    r = client.get("/openapi.json")
    assert "Content-Security-Policy" not in r.headers and "Server-Timing" not in r.headers


def test_the_check_form_has_every_field_of_the_contract(client):
    page = client.get("/").get_data(as_text=True)
    for c in SCHEMA.columns:
        assert f'name="{c.name}"' in page, c.name
        assert f'id="err-{c.name}"' in page  # where the API's message for it goes
        if c.kind == "category":
            for v in c.categories:
                assert f'value="{v}"' in page
    for fam in FAMILIES:
        assert f"<legend>{family_label(fam)}</legend>" in page
    assert page.count(">Unknown</option>") == sum(
        1 for c in SCHEMA.columns if c.kind in ("category", "boolean") and not c.required)


def test_a_shared_link_fills_the_form_escaped(client):
    page = client.get("/", query_string={"campaign_id": XSS, "material_delay_days": "12",
                                         "marketplace": "DE"}).get_data(as_text=True)
    assert XSS not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'value="12"' in page and '<option value="DE" selected>' in page
    assert '"auto": true' in page


def test_upload_scores_the_plan_like_the_command(wb, history_df):
    client, root, a, _ = wb
    token = _token(client)
    r = client.post("/quarter", data={"csrf_token": token,
                                      "plan": (io.BytesIO(_plan_csv(history_df)), "q3.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 303, r.get_data(as_text=True)
    view = client.get(r.headers["Location"])
    page = view.get_data(as_text=True)
    assert view.status_code == 200
    assert re.search(r'id="q-scored">59<', page) and re.search(r'id="q-rejected">1<', page)
    assert XSS not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "goal_alignment_score is out of range (row 8)" in page
    status, headers, data = _download(client, r.headers["Location"] + "/scored.csv")
    assert status == 200 and "attachment" in headers["Content-Disposition"]
    df = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    assert len(df) == 59 and XSS in set(df["campaign_id"])
    expected = pd.to_numeric(df["failure_risk"]).sum()
    assert re.search(rf'id="q-expected">{expected:,.1f}<', page)
    assert b"goal_alignment_score" in _download(client, r.headers["Location"] + "/rejects.csv")[2]
    status, _, book = _download(client, r.headers["Location"] + "/scored.xlsx")
    assert status == 200 and book[:2] == b"PK"
    report = _download(client, r.headers["Location"] + "/report.html")[2].decode()
    assert "The quarter's action list" in report and XSS not in report


def test_the_language_chosen_in_the_address_stays_through_the_redirects(two_versions,
                                                                         tmp_path, history_df):
    """A planner who chose Chinese with ``?lang=`` (not by the browser's language) gets the
    page after an upload, a promotion or a roll-back, and their error pages' way back, in
    Chinese too."""
    import shutil

    root, a, b, _ = two_versions
    copy = shutil.copytree(root, tmp_path / "art")  # promotes and rolls back its own
    client = create_app({"artifacts": str(copy), "reload_interval": 3600.0,
                         "data_dir": str(tmp_path / "var"), "api_keys": "secret-key",
                         "log_predictions": False}).test_client()
    token = _token(client, "/quarter?lang=zh-CN")
    r = client.post("/quarter?lang=zh-CN", data={
        "csrf_token": token, "plan": (io.BytesIO(_plan_csv(history_df)), "q3.csv")},
        content_type="multipart/form-data")
    assert r.status_code == 303 and r.headers["Location"].endswith("?lang=zh-CN")
    assert '<html lang="zh-CN">' in client.get(r.headers["Location"]).get_data(as_text=True)
    model = client.get("/model?lang=zh-CN").get_data(as_text=True)
    assert 'action="/model/promote?lang=zh-CN"' in model
    assert 'action="/model/rollback?lang=zh-CN"' in model
    r = client.post("/model/promote?lang=zh-CN", data={
        "version": b, "csrf_token": token, "api_key": "secret-key"})
    assert r.status_code == 303 and "lang=zh-CN" in r.headers["Location"]
    assert '<html lang="zh-CN">' in client.get(r.headers["Location"]).get_data(as_text=True)
    r = client.post("/model/rollback?lang=zh-CN", data={"csrf_token": token,
                                                       "api_key": "secret-key"})
    assert r.status_code == 303 and "lang=zh-CN" in r.headers["Location"]
    refused = client.post("/quarter?lang=zh-CN", data={"csrf_token": "0" * 64})
    assert refused.status_code == 403
    assert 'href="/quarter?lang=zh-CN"' in refused.get_data(as_text=True)
    # asked for by the browser's language alone, the addresses stay plain
    r = client.post("/model/rollback", data={"csrf_token": token, "api_key": "secret-key"},
                    headers={"Accept-Language": "zh-CN"})
    assert r.status_code in (303, 422) and "lang=" not in r.headers.get("Location", "")


def test_one_campaign_is_counted_in_the_singular(wb, history_df):
    """The quarter's counts by family, warning and out-of-depth note say "1 campaign"."""
    client, *_ = wb
    plan = history_df[list(SCHEMA.names)].head(1).to_csv(index=False).encode()
    r = client.post("/quarter", data={"csrf_token": _token(client),
                                      "plan": (io.BytesIO(plan), "one.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 303, r.get_data(as_text=True)
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert re.search(r": 1 campaign</li>", page) and not re.search(r"\b1 campaigns", page)


def test_upload_needs_the_csrf_token(wb, history_df):
    client, *_ = wb
    client.get("/quarter")  # the cookie is set, but the form's token is missing or wrong
    for data in ({}, {"csrf_token": "0" * 64}):
        r = client.post("/quarter", data=dict(data, plan=(io.BytesIO(_plan_csv(history_df)),
                                                          "q.csv")),
                        content_type="multipart/form-data")
        assert r.status_code == 403 and "security token" in r.get_data(as_text=True)
    token = _token(client)
    r = client.post("/quarter", data={"csrf_token": token, "plan": (
        io.BytesIO(_plan_csv(history_df)), "q.csv")}, content_type="multipart/form-data",
        headers={"Origin": "https://elsewhere.example"})
    assert r.status_code == 403


def test_a_file_over_the_limit_names_the_command_line(two_versions, tmp_path, history_df):
    root, *_ = two_versions
    client = create_app({"artifacts": str(root), "data_dir": str(tmp_path / "var"),
                         "max_upload_bytes": 2000, "log_predictions": False}).test_client()
    token = _token(client)
    r = client.post("/quarter", data={"csrf_token": token, "plan": (
        io.BytesIO(_plan_csv(history_df, 200)), "big.csv")}, content_type="multipart/form-data")
    assert r.status_code == 413
    page = r.get_data(as_text=True)
    assert "riskmodel score --in PLAN --out scored.csv --report report.html" in page
    assert not list((tmp_path / "var").glob("workbench/*"))


@pytest.mark.parametrize("name,body,status,words", [
    ("plan.txt", b"a,b\n1,2\n", 415, "none of them"),
    ("plan.csv", b"campaign_id,marketplace\nx,US\n", 422, "is a required column"),
    ("plan.xlsx", b"not a zip", 422, "could not be read as an Excel workbook"),
], ids=["wrong-type", "missing-columns", "broken-workbook"])
def test_unscorable_uploads_say_why(wb, name, body, status, words):
    client, *_ = wb
    r = client.post("/quarter", data={"csrf_token": _token(client),
                                      "plan": (io.BytesIO(body), name)},
                    content_type="multipart/form-data")
    assert r.status_code == status and words in r.get_data(as_text=True)


def test_unknown_or_malformed_jobs_are_404(client):
    for path in ("/quarter/AAAAAAAAAAAAAAAAAAAAAA", "/quarter/..%2F..%2Fetc",
                 "/quarter/AAAAAAAAAAAAAAAAAAAAAA/scored.csv"):
        assert client.get(path).status_code == 404


def test_the_template_workbook_downloads(client):
    status, _, data = _download(client, "/quarter/template.xlsx")
    assert status == 200 and data[:2] == b"PK"


def test_the_model_page_shows_metrics_plots_and_versions(wb):
    client, root, a, b = wb
    page = client.get("/model").get_data(as_text=True)
    assert a in page and b in page and "serving" in page and "Bayes limit" in page
    for plot in ("calibration.png", "roc.png", "factors.png"):
        assert f"/model/{a}/{plot}" in page
        status, _, data = _download(client, f"/model/{a}/{plot}")
        assert status == 200 and data[:4] == b"\x89PNG"
    assert client.get(f"/model/{a}/model.joblib").status_code == 404
    assert client.get(f"/model/{a}/..%2Fmanifest.json").status_code == 404


def test_the_band_rule_is_said_in_the_pages_language(wb):
    """The manifest's rule for the risk bands (written by training) reads in Chinese on a
    Chinese model page; another wording (a version trained by other code) as written."""
    from riskmodel import BAND_RULE, band_rule

    client, *_ = wb
    rule = re.compile(r'<p class="muted" id="band-rule">([^<]*)</p>')
    assert rule.search(client.get("/model").get_data(as_text=True))[1] == BAND_RULE
    zh = rule.search(client.get("/model?lang=zh-CN").get_data(as_text=True))[1]
    assert zh == "中风险从验证集的失败率起；高风险从验证集风险的第80百分位起"
    assert band_rule("by hand", "zh_CN") == "by hand"


def test_promote_and_rollback_need_the_key_and_the_token(wb):
    client, root, a, b = wb
    reg = Registry(root)
    assert reg.current_version() == a
    token = _token(client, "/model")
    cases = [({"version": b}, 403),  # no token
             ({"version": b, "csrf_token": token}, 401),  # no key
             ({"version": b, "csrf_token": token, "api_key": "wrong"}, 401)]
    for form, status in cases:
        assert client.post("/model/promote", data=form).status_code == status
        assert reg.current_version() == a
    r = client.post("/model/promote", data={"version": b, "csrf_token": token,
                                            "api_key": "secret-key", "reason": XSS})
    assert r.status_code == 303 and reg.current_version() == b
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert f"{b} is now serving." in page and XSS not in page
    assert client.get("/v1/model").get_json()["model_version"] == b  # swapped at once
    r = client.post("/model/rollback", data={"csrf_token": token, "api_key": "secret-key"})
    assert r.status_code == 303 and reg.current_version() == a
    assert reg.history()[-1]["action"] == "rollback" and reg.history()[-1]["by"] == "workbench"


def test_labels_read_as_words(client):
    page = client.get("/").get_data(as_text=True)
    assert label("material_delay_days") in page and label("goal_alignment_score") in page


def test_every_workbench_write_needs_the_csrf_token(wb):
    client, *_ = wb
    app = client.application
    writes = [rule.rule for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith("workbench.") and "POST" in rule.methods]
    assert sorted(writes) == ["/model/promote", "/model/rollback", "/monitoring",
                             "/quarter"]
    client.get("/model")  # a cookie, but no token in the form
    for path in writes:
        r = client.post(path, data={"api_key": "secret-key", "version": "x"})
        assert r.status_code == 403 and r.mimetype == "text/html", path


def test_uploads_need_a_key_when_scoring_does(two_versions, tmp_path, history_df):
    root, *_ = two_versions
    client = create_app({"artifacts": str(root), "data_dir": str(tmp_path / "var"),
                         "api_keys": "k", "scoring_requires_key": True,
                         "log_predictions": False}).test_client()
    assert 'name="api_key"' in client.get("/quarter").get_data(as_text=True)
    assert 'id="api-key"' in client.get("/").get_data(as_text=True)
    for key, status in (("", 401), ("wrong", 401), ("k", 303)):
        r = client.post("/quarter", data={"csrf_token": _token(client), "api_key": key,
                                          "plan": (io.BytesIO(_plan_csv(history_df)), "q.csv")},
                        content_type="multipart/form-data")
        assert r.status_code == status


def test_a_plot_that_is_a_symbolic_link_is_not_served(two_versions, tmp_path):
    import shutil

    src, a, _, _ = two_versions
    root = tmp_path / "art"
    shutil.copytree(src, root)
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG not for the web")
    plot = root / "models" / a / "roc.png"
    plot.unlink()
    plot.symlink_to(secret)
    client = create_app({"artifacts": str(root), "reload_interval": 3600.0,
                         "data_dir": str(tmp_path / "var")}).test_client()
    status, _, data = _download(client, f"/model/{a}/roc.png")
    assert status == 404 and b"not for the web" not in data


@pytest.mark.parametrize("behind_proxy, forwarded, status", [
    (False, {"X-Forwarded-Proto": "https"}, 403),  # the header is not trusted by default
    (True, {"X-Forwarded-Proto": "https"}, 303),  # TLS ends at the proxy: the browser's origin
    (True, {}, 403),  # a proxy that does not say the scheme: https is not our origin
])
def test_a_key_form_behind_an_https_proxy(two_versions, tmp_path, behind_proxy, forwarded,
                                           status):
    """Behind a proxy that ends TLS the browser sends ``Origin: https://host`` to a replica
    that sees plain HTTP; with RISKMODEL_BEHIND_PROXY the scheme comes from the proxy."""
    root, a, b, _ = two_versions
    client = create_app({"artifacts": str(root), "reload_interval": 3600.0,
                         "data_dir": str(tmp_path / "var"), "api_keys": "secret-key",
                         "log_predictions": False, "behind_proxy": behind_proxy}).test_client()
    reg = Registry(root)
    before = reg.current_version()
    other = b if before == a else a
    token = _token(client, "/model")
    r = client.post("/model/promote", data={"version": other, "csrf_token": token,
                                            "api_key": "secret-key"},
                    headers={"Origin": "https://localhost", **forwarded})
    try:
        assert r.status_code == status
        assert reg.current_version() == (other if status == 303 else before)
    finally:  # the versions are shared with later tests: leave them as found
        if reg.current_version() != before:
            reg.promote(before, by="test", reason="restore")


# --------------------------------------------------------------------------- /monitoring

MONITOR_KEY = "monitor-key-1234"


@pytest.fixture
def mon(trained, tmp_path):
    """The workbench over the suite's model and an empty SQLite store; yields the client and
    the store's URL."""
    root, _ = trained
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    app = create_app({"artifacts": str(root), "reload_interval": 3600.0,
                      "data_dir": str(tmp_path / "var"), "api_keys": MONITOR_KEY,
                      "database_url": url, "log_predictions": False})
    yield app.test_client(), url
    app.extensions["riskmodel.store"].dispose()


def _monitor(client, lang="en", **form):
    token = _token(client, "/monitoring")
    data = {"csrf_token": token, "api_key": MONITOR_KEY, **form}
    r = client.post("/monitoring", data={k: v for k, v in data.items() if v is not None},
                    headers={"Accept-Language": lang})
    return r.status_code, r.get_data(as_text=True)


def _text(page: str, element_id: str) -> str:
    """The text of the element with ``element_id`` (or ``aria-labelledby``), tags dropped,
    spaces squeezed (to its tag's first closing tag: none of these nests its own tag)."""
    m = re.search(rf'<(\w+)[^>]*(?:id|aria-labelledby)="{element_id}"[^>]*>', page)
    inner = page[m.end():page.index(f"</{m.group(1)}>", m.end())]
    return " ".join(re.sub(r"<[^>]+>", " ", inner).split())


def test_the_monitoring_page_asks_for_the_key_in_a_form(mon):
    client, _ = mon
    assert 'href="/monitoring"' in client.get("/").get_data(as_text=True)  # in the nav
    page = client.get("/monitoring").get_data(as_text=True)
    form = re.search(r'<form[^>]*id="monitor-form".*?</form>', page, re.S).group(0)
    assert 'method="post"' in form and 'name="csrf_token"' in form
    assert re.search(r'<input id="mon-key" name="api_key" type="password"', form)
    assert 'name="since" type="date"' in form and 'name="until" type="date"' in form
    assert 'id="verdict"' not in page  # nothing is shown before the key is given


def test_monitoring_needs_the_token_and_the_key(mon, scorer):
    client, url = mon
    fill_store(url, scorer, n=200)
    client.get("/monitoring")  # a cookie, but no token in the form
    r = client.post("/monitoring", data={"api_key": MONITOR_KEY})
    assert r.status_code == 403 and "security token" in r.get_data(as_text=True)
    for key in (None, "", "wrong"):
        status, page = _monitor(client, api_key=key)
        assert status == 401 and "API keys" in page and 'id="verdict"' not in page
    status, page = _monitor(client)
    assert status == 200 and 'id="verdict"' in page
    assert MONITOR_KEY not in page  # never echoed into the page (nor in any address)


def test_without_api_keys_the_page_says_to_use_the_command(trained, tmp_path):
    root, _ = trained
    client = create_app({"artifacts": str(root), "reload_interval": 3600.0,
                         "data_dir": str(tmp_path / "var"),
                         "log_predictions": False}).test_client()
    page = client.get("/monitoring").get_data(as_text=True)
    assert "riskmodel monitor" in page and "RISKMODEL_API_KEYS" in page
    status, page = _monitor(client)
    assert status == 403 and "RISKMODEL_API_KEYS" in page


def test_a_shifted_world_shows_retrain_with_its_reasons_in_words(mon, scorer):
    from training.synthetic import Shift

    client, url = mon
    fill_store(url, scorer, Shift(delay_days=10))
    status, page = _monitor(client)
    assert status == 200
    assert 'data-verdict="retrain recommended"' in page
    assert _text(page, "verdict-word") == "Retrain recommended"
    reasons = _text(page, "reasons")
    assert f"“{label('material_delay_days')}” has moved away from the training data" \
        in reasons
    assert "material_delay_days" not in reasons  # codes are for the operators' list
    assert "The predicted risk has moved" in reasons
    assert 'data-factor="material_delay_days"' in page and "yes, a lot" in page
    card = scorer.manifest["metrics"]
    perf = _text(page, "s-perf")  # the section
    assert f"{card['roc_auc']:.3f}" in perf and f"{card['ece']:.3f}" in perf
    assert "campaigns failed; the model expected" in perf
    assert page.count("<svg") == 3  # drift, expected per month scored, failures per month
    assert "2026-09" in _text(page, "segments") and "Month of completion" in page


def test_the_verdict_in_chinese(mon, scorer):
    from training.synthetic import Shift

    client, url = mon
    fill_store(url, scorer, Shift(delay_days=10))
    status, page = _monitor(client, lang="zh-CN")
    assert status == 200 and '<html lang="zh-CN">' in page
    assert _text(page, "verdict-word") == "建议重新训练"
    reasons = _text(page, "reasons")
    assert label("material_delay_days", "zh_CN") in reasons
    assert re.findall(r"[A-Za-z]{3,}", reasons) == ["PSI", "PSI"]


@pytest.mark.parametrize("fill, form, status, words", [
    (None, {}, 409, "has not logged any scored campaign yet"),
    ({}, {"since": "2025-01-01", "until": "2025-02-01"}, 409,
     "Nothing was scored between these dates"),
    ({"outcomes": False}, {}, 200, "No outcome has been recorded yet"),
    ({}, {"since": "last week"}, 422, "use YYYY-MM-DD"),
    ({}, {"since": "2026-10-01", "until": "2026-09-01"}, 422, "must be after"),
], ids=["nothing-logged", "empty-window", "no-outcomes-yet", "bad-date", "until-before-since"])
def test_what_cannot_be_monitored_is_said_on_the_page(mon, scorer, fill, form, status, words):
    client, url = mon
    if fill is not None:
        fill_store(url, scorer, n=200, **fill)
    got, page = _monitor(client, **form)
    assert got == status and words in page and "Traceback" not in page
    assert 'id="monitor-form"' in page  # the form again, to widen the window or fix a date
    for name, value in form.items():
        assert f'name="{name}" type="date" value="{value}"' in page


def test_no_outcomes_yet_still_gives_a_verdict_on_drift(mon, scorer):
    client, url = mon
    fill_store(url, scorer, n=400, outcomes=False)
    status, page = _monitor(client)
    assert status == 200 and 'id="verdict"' in page and 'id="performance"' not in page


def test_a_version_without_reference_statistics_says_to_retrain(trained, scorer, tmp_path):
    root, _ = trained
    copy = without_reference(root, scorer.version, tmp_path / "art")
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    fill_store(url, scorer, n=200)
    app = create_app({"artifacts": str(copy), "reload_interval": 3600.0,
                      "data_dir": str(tmp_path / "var"), "api_keys": MONITOR_KEY,
                      "database_url": url, "log_predictions": False})
    status, page = _monitor(app.test_client())
    assert status == 409 and "has no reference statistics" in page
    assert "make default-model" in page and "riskmodel train" in page
    app.extensions["riskmodel.store"].dispose()


def test_no_model_serving_is_said(tmp_path):
    client = create_app({"artifacts": str(tmp_path / "empty"), "reload_interval": 3600.0,
                         "data_dir": str(tmp_path / "var"), "api_keys": MONITOR_KEY,
                         "log_predictions": False}).test_client()
    status, page = _monitor(client)
    assert status == 503 and "No model is serving" in page


def test_every_reason_the_core_gives_is_put_in_words():
    """The page words the core's reasons from their codes and parameters
    (riskmodel.monitoring.decide_reasons), never from the English: every code the core can
    give has the page's words, in each language (a code it does not know shows the
    core's English, as it came)."""
    from riskmodel import REASON_CODES, Policy
    from riskmodel.monitoring import decide_reasons
    from service.workbench.monitoring import REASON_WORDS, reason_words

    assert set(REASON_WORDS) == set(REASON_CODES)
    moved = {"factor": "material_delay_days", "moved": True, "psi": 0.4, "p_adjusted": 1e-9}
    watch = dict(moved, factor="budget_match_ratio", psi=0.15)
    drift = {"factors": [moved, watch],
             "by_campaign_type": [{"factor": "goal_alignment_score", "moved": True,
                                   "campaign_type": "deal_of_the_day", "psi": 0.2}]}
    score = {"moved": True, "psi": 0.3, "mean_risk": 0.41, "reference_mean_risk": 0.3}
    realized = {"outcomes": 500, "card": {"roc_auc": 0.86, "ece": 0.03},
                "overall": {"p_beyond_tolerance": 1e-6, "observed": 250, "expected": 150.2,
                            "interval": [130.1, 170.3], "roc_auc": 0.7, "roc_auc_se": 0.01,
                            "ece": 0.12},
                "segments": [{"segment": "marketplace", "value": "ES", "miscalibrated": True,
                              "observed": 40, "expected": 20.5},
                             {"segment": "month", "value": "2026-09", "miscalibrated": True,
                              "observed": 90, "expected": 60.0}]}
    verdict, reasons = decide_reasons(drift, score, realized, Policy())
    assert verdict == "retrain recommended"
    assert {r.code for r in reasons} == set(REASON_CODES)
    for locale in ("en", "zh_CN"):
        for r in reasons:
            said = reason_words(r.as_dict(), locale, fallback="(fallback)")
            assert said not in (r.text, "(fallback)"), r.code
            for code in ("material_delay_days", "budget_match_ratio", "deal_of_the_day"):
                assert code not in said
    en = [reason_words(r.as_dict(), "en") for r in reasons]
    assert "Spain" in en[-1] or "ES" in en[-1]
    assert "250 campaigns failed against 150.2 expected" in " ".join(en)
    new = {"code": "something_new", "params": {}}
    assert reason_words(new, "zh_CN", fallback="something new") == "something new"


def test_a_reason_is_said_in_chinese_from_its_code_not_its_english(mon, scorer):
    """The page reads a reason's code and parameters: an English text it could not parse
    (the core's words reworded) changes nothing of what the planner reads."""
    client, url = mon
    fill_store(url, scorer, n=200)
    monitoring = client.application.extensions["riskmodel.monitoring"]
    code = {"code": "factor_moved_within_campaign_type", "level": "watch",
            "params": {"factor": "goal_alignment_score", "campaign_type": "deal_of_the_day",
                       "psi": 0.2134, "p_adjusted": 1e-4, "psi_threshold": 0.1,
                       "alpha": 0.01}}
    result = dict(monitoring.result(), verdict="watch", reason_codes=[code],
                  reasons=["Goal alignment shifted in DOTD, PSI=0.2134 (reworded)"])
    monitoring.result = lambda since=None, until=None: result
    status, page = _monitor(client, lang="zh-CN")
    assert status == 200 and 'data-reason="factor_moved_within_campaign_type"' in page
    reasons = _text(page, "reasons")
    assert reasons == (f"“{label('goal_alignment_score', 'zh_CN')}”在"
                       f"{value_label('deal_of_the_day', 'zh_CN')}活动中发生了变化"
                       f"（PSI 0.21）。")
    assert "reworded" in page  # the core's English, under "For operators" only


def test_an_unreachable_store_is_said(trained, tmp_path):
    root, _ = trained
    client = create_app({"artifacts": str(root), "reload_interval": 3600.0,
                         "data_dir": str(tmp_path / "var"), "api_keys": MONITOR_KEY,
                         "database_url": "postgresql://postgres@127.0.0.1:9/none",
                         "log_predictions": False}).test_client()
    status, page = _monitor(client)
    assert status == 503 and "cannot be read" in page and "Traceback" not in page


@pytest.mark.parametrize("verdict, reasons, words", [
    ("ok", [], "Nothing to do."),
    ("watch", [("goal_alignment_score moved within deal_of_the_day (PSI 0.21)",
                {"code": "factor_moved_within_campaign_type", "level": "watch",
                 "params": {"factor": "goal_alignment_score",
                            "campaign_type": "deal_of_the_day", "psi": 0.21}})],
     f"“{label('goal_alignment_score')}” has moved within Deal of the Day campaigns"),
], ids=["ok", "watch"])
def test_each_verdict_reads_as_words(mon, scorer, verdict, reasons, words):
    client, url = mon
    fill_store(url, scorer, n=200)
    monitoring = client.application.extensions["riskmodel.monitoring"]
    result = dict(monitoring.result(), verdict=verdict, reasons=[r for r, _ in reasons],
                  reason_codes=[c for _, c in reasons])
    monitoring.result = lambda since=None, until=None: result
    status, page = _monitor(client)
    assert status == 200 and f'data-verdict="{verdict}"' in page
    assert words in _text(page, "verdict")
