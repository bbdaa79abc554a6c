"""The language of a request (service/i18n.py): ``lang``, then ``Accept-Language``, then
English; ``Content-Language`` on every answer; only the words change."""

from __future__ import annotations

import re

import pytest

from service import create_app

GOOD = {"campaign_id": "lang-1", "marketplace": "DE", "category": "home",
        "campaign_type": "lightning_deal", "duration_days": 10, "goal_alignment_score": 0.2,
        "mou_signed": False, "material_delay_days": 20, "resource_value_usd": 20000,
        "committed_ad_budget_usd": 1000, "attribution_enabled": False,
        "annual_sales_usd": 100000, "has_a_plus_content": False, "monthly_ad_spend_usd": 100}
WORDS = ("reason", "mitigation", "target", "message", "threshold", "escalation", "title",
         "detail")


@pytest.fixture(scope="module")
def client(trained):
    root, _ = trained
    return create_app({"artifacts": str(root), "reload_interval": 3600.0,
                       "log_predictions": False}).test_client()


def without_words(data):
    """The answer with every text a person reads taken out (and the request id)."""
    if isinstance(data, dict):
        return {k: without_words(v) for k, v in data.items()
                if k not in WORDS and k != "request_id"}
    if isinstance(data, list):
        return [without_words(v) for v in data]
    return data


def words(data) -> list[str]:
    if isinstance(data, dict):
        return [t for k, v in data.items()
                for t in ([v] if k in WORDS and isinstance(v, str) else words(v))]
    if isinstance(data, list):
        return [t for v in data for t in words(v)]
    return []


def has_chinese(text: str) -> bool:
    return re.search(r"[\u4e00-\u9fff]", text) is not None


@pytest.mark.parametrize("query, header, expected", [
    ("", None, "en"),
    ("", "zh-CN", "zh-CN"),
    ("", "zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
    ("", "en;q=0.5, zh-Hans;q=0.9", "zh-CN"),
    ("", "fr-FR, de;q=0.9", "en"),
    ("", "zh-TW", "en"),
    ("", "zh-CN;q=0", "en"),
    ("", ";;;,,q=x", "en"),
    ("", "\u00ff\u00fe", "en"),
    ("?lang=zh-CN", None, "zh-CN"),
    ("?lang=zh_CN", "en", "zh-CN"),
    ("?lang=en", "zh-CN", "en"),
    ("?lang=klingon", "zh-CN", "zh-CN"),
    ("?lang=", None, "en"),
    ("?lang=%FF%FE", None, "en"),
    ("?top_k=2&lang=zh", None, "zh-CN"),
], ids=["none", "zh-CN", "browser-zh", "by-quality", "unsupported", "traditional",
        "refused", "garbage-header", "latin1-header", "query", "query-over-header",
        "query-en", "unknown-query-then-header", "empty-query", "bad-bytes-query",
        "query-among-others"])
def test_the_language_is_chosen_by_query_then_header_and_falls_back_to_english(
        client, query, header, expected):
    headers = {"Accept-Language": header} if header is not None else {}
    r = client.post(f"/v1/score{query}", json=GOOD, headers=headers)
    assert r.status_code == 200
    assert r.headers["Content-Language"] == expected
    text = " ".join(words(r.json))
    assert has_chinese(text) == (expected == "zh-CN")


def test_only_the_words_change_with_the_language(client):
    en = client.post("/v1/score?top_k=8", json=GOOD).json
    zh = client.post("/v1/score?top_k=8", json=GOOD, headers={"Accept-Language": "zh-CN"}).json
    assert without_words(en) == without_words(zh)
    [result] = zh["results"]
    assert result["risk_band"] in ("low", "medium", "high")  # codes stay codes
    factors = result["top_factors"]
    assert any(f["what_if"] for f in factors) and result["warnings"]
    for text in words(zh):
        assert has_chinese(text), text
    assert {w["code"] for w in result["warnings"]} >= {"sales_below_threshold",
                                                        "no_a_plus_content"}


def test_a_problem_reads_in_chinese_and_keeps_its_type_and_fields(client):
    bad = dict(GOOD, marketplace="Atlantis", colour="red")
    en = client.post("/v1/score", json=bad)
    zh = client.post("/v1/score?lang=zh-CN", json=bad)
    assert en.status_code == zh.status_code == 422
    assert zh.headers["Content-Language"] == "zh-CN"
    assert zh.headers["Content-Type"] == "application/problem+json"
    assert without_words(en.json) == without_words(zh.json)
    assert zh.json["title"] == "活动数据有误" and zh.json["detail"].startswith("共2处输入问题")
    assert all(has_chinese(e["message"]) for e in zh.json["errors"])
    assert [e["problem"] for e in zh.json["errors"]] == [e["problem"] for e in en.json["errors"]]


@pytest.mark.parametrize("request_kw", [
    {"path": "/v1/score", "data": "{not json", "content_type": "application/json"},
    {"path": "/v1/score", "data": "x", "content_type": "text/plain"},
    {"path": "/v1/score?top_k=many", "json": GOOD},
    {"path": "/v1/score", "json": [GOOD]},
    {"path": "/v1/score", "json": {"campaigns": []}},
    {"path": "/v1/score", "data": '{"campaign_id": "a", "campaign_id": "b"}',
     "content_type": "application/json"},
    {"path": "/v1/score", "data": b"not gzip", "content_type": "application/json",
     "headers": {"Content-Encoding": "gzip"}},
    {"path": "/v1/score", "data": b"{}", "content_type": "application/json",
     "headers": {"Content-Encoding": "br"}},
    {"path": "/v1/score", "json": {f"k{i}": i for i in range(150)}},
    {"path": "/v1/score", "json": {"campaigns": [GOOD], **{f"k{i}": 1 for i in range(8)}}},
    {"path": "/v1/monitoring?since=yesterday", "headers": {"X-API-Key": "k"}},
], ids=["malformed-json", "wrong-type", "bad-top-k", "array", "empty-batch", "duplicate-name",
        "bad-gzip", "other-encoding", "too-many-fields", "unknown-batch-keys",
        "monitoring-date"])
def test_every_problem_of_the_scoring_route_has_a_chinese_title_and_detail(client, request_kw):
    kw = dict(request_kw)
    path = kw.pop("path")
    headers = {"Accept-Language": "zh-CN", **kw.pop("headers", {})}
    call = client.get if path.startswith("/v1/monitoring") else client.post
    r = call(path, headers=headers, **kw)
    assert r.status_code in (400, 401, 415, 422), r.json
    assert has_chinese(r.json["title"]) and has_chinese(r.json["detail"]), r.json
    en = call(path, headers={**headers, "Accept-Language": "en"}, **kw)
    assert without_words(en.json) == without_words(r.json)


def test_a_bounded_error_answer_reads_in_chinese(client):
    from riskmodel import MAX_ERRORS

    bad = {"campaigns": [dict(GOOD, campaign_id=f"b{i}", marketplace="Atlantis",
                              duration_days=-1) for i in range(30)]}
    en = client.post("/v1/score", json=bad)
    zh = client.post("/v1/score", json=bad, headers={"Accept-Language": "zh-CN"})
    assert en.status_code == zh.status_code == 422
    assert without_words(en.json) == without_words(zh.json)
    assert zh.json["errors_omitted"] == 60 - MAX_ERRORS
    assert en.json["detail"].startswith(f"60 input problems ({MAX_ERRORS} listed, ")
    assert zh.json["detail"].startswith(f"共60处输入问题（列出{MAX_ERRORS}处，另有")
    assert all(has_chinese(e["message"]) for e in zh.json["errors"])


def test_flasks_own_errors_have_a_chinese_title(client):
    r = client.get("/no-such-page", headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 404 and r.json["title"] == "未找到"
    assert r.headers["Content-Language"] == "zh-CN"
    r = client.get("/v1/score?lang=zh-CN")
    assert r.status_code == 405 and has_chinese(r.json["title"]) and r.headers["Allow"]


def test_every_answer_says_its_language(client):
    for path in ("/healthz", "/readyz", "/v1/model", "/openapi.json"):
        r = client.get(path, headers={"Accept-Language": "zh-CN"})
        assert r.headers["Content-Language"] == "zh-CN", path


def test_templates_and_views_speak_the_requests_language(client):
    """The templates' ``_()`` and ``ngettext()`` and the views' ``gettext`` read the
    catalog of the request's language, fill their placeholders (escaped in a template),
    and choose the plural form by the catalog's rule (English has two); a view's message
    without variables keeps its ``%``, a template's ``%%`` is one."""
    from flask import render_template_string

    from service.i18n import gettext

    app = client.application
    page = ('{{ _("%(n)s expected failures avoided", n=n) }}|'
            '{{ ngettext("%(num)s row could not be scored (%(problems)s problems)", '
            '"%(num)s rows could not be scored (%(problems)s problems)", rows, '
            'problems=problems) }}')
    with app.test_request_context("/?lang=zh-CN"):
        assert render_template_string(page, n="<b>3</b>", rows=2, problems=5) == \
            "预计可避免&lt;b&gt;3&lt;/b&gt;次失败|2行无法打分（5处问题）"
        assert gettext("No such plot") == "没有这张图"
        assert render_template_string('{{ _("100%% of %(n)s", n=3) }}') == "100% of 3"
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert render_template_string(page, n="3", rows=1, problems=2) == \
            "3 expected failures avoided|1 row could not be scored (2 problems)"
        assert render_template_string(page, n="3", rows=2, problems=2).endswith(
            "|2 rows could not be scored (2 problems)")
        assert gettext("0 = even odds (50%)") == "0 = even odds (50%)"  # as written
    with app.app_context():  # outside a request: English
        assert gettext("No such plot") == "No such plot"
