"""The core's languages (riskmodel/i18n.py): negotiation, the catalogs (the core's and the
service's), field messages, and every text a planner reads rendered in both languages for
a grid of campaigns."""

from __future__ import annotations

import io
import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

import riskmodel
from riskmodel import (
    ADVICE,
    FACTORS,
    LOCALES,
    SCHEMA,
    WARNING_CODES,
    format_number,
    format_share,
    format_usd,
    language_tag,
    negotiate_locale,
    value_label,
    warning_label,
)

ROOT = Path(riskmodel.__file__).parent
KEYWORDS = {"N_": None, "_": None, "gettext": None, "lazy_gettext": None,
            "ngettext": (1, 2)}

# Names the Chinese texts keep in English, as the source (shared/seed) does: Amazon and its
# programmes and tools, the acronyms a planner uses, the case label Seller Central expects,
# and Babel's zh_CN symbol for dollars.
KEPT = ("Co-op Campaign Issue", "Seller Central", "Amazon Attribution", "Brand Analytics",
        "Amazon", "Prime", "Case", "App", "DOTD", "MOU", "UTM", "BSR", "A+", "AM", "KPI",
        "ROI", "CAC", "US$")


def english_left(text: str) -> list[str]:
    """Latin words in ``text`` once the names the Chinese texts keep are taken out."""
    for name in KEPT:
        text = text.replace(name, " ")
    return re.findall(r"[A-Za-z]+", text)


def placeholders(text: str) -> set[str]:
    """The ``{name}`` fields of a text, and its ``%(name)s`` ones (the templates')."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None} | \
        {f"%({name})" for name in re.findall(r"%\((\w+)\)", text)}


def catalog_problems(po) -> list[str]:
    """Each message of a .po catalog that lacks a translation, is fuzzy, or whose
    translation does not keep the message's placeholders."""
    out = []
    for m in po:
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        if not all(strings) or m.fuzzy:
            out.append(f"untranslated: {ids[0]!r}")
        elif any(placeholders(t) != placeholders(ids[-1]) for t in strings):
            out.append(f"placeholders of {ids[0]!r}: {sorted(placeholders(strings[0]))}")
    return out


def extracted(package: Path) -> set[str]:
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    return {msg if isinstance(msg, str) else msg[0]
            for _, _, msg, _, _ in extract_from_dir(str(package), method_map, keywords=KEYWORDS)
            if msg}


# every package with a catalog: its directory and domain (the command line's catalog also
# holds the batch summary's lines, as `make catalogs` extracts them)
PACKAGES = {"riskmodel": ROOT, "service": ROOT.parent / "service",
            "commands": ROOT.parent / "commands"}
SOURCES = {**{k: [v] for k, v in PACKAGES.items()},
           "commands": [ROOT.parent / "commands", ROOT.parent / "batch"]}


def po_of(locale: str, package: str = "riskmodel"):
    path = PACKAGES[package] / "locale" / locale / "LC_MESSAGES" / f"{package}.po"
    with open(path, "rb") as f:
        return read_po(f)


# --------------------------------------------------------------------------- negotiation


@pytest.mark.parametrize("tags, expected", [
    (("zh-CN",), "zh_CN"), (("zh_CN",), "zh_CN"), (("zh",), "zh_CN"),
    (("zh-Hans",), "zh_CN"), (("zh-Hans-CN",), "zh_CN"), (("zh-SG",), "zh_CN"),
    (("zh_CN.UTF-8",), "zh_CN"), (("en",), "en"), (("en-US",), "en"), (("EN-gb",), "en"),
    (("zh-TW",), "en"), (("zh-Hant",), "en"), (("fr", "zh-CN"), "zh_CN"),
    (("de",), "en"), (("",), "en"), (("!!",), "en"), (("zh-",), "en"), (("x" * 200,), "en"),
    ((None, 42), "en"), ((), "en"), (("C",), "en"), (("C.UTF-8",), "en"),
], ids=["zh-CN", "zh_CN", "zh", "zh-Hans", "zh-Hans-CN", "zh-SG", "LANG", "en", "en-US",
        "case", "traditional-TW", "traditional-Hant", "second-choice", "unsupported",
        "empty", "garbage", "dangling", "too-long", "not-text", "none", "C", "C.UTF-8"])
def test_a_tag_gives_a_shipped_locale_and_anything_else_english(tags, expected):
    assert negotiate_locale(*tags) == expected


def test_language_tags_are_bcp47():
    assert [language_tag(loc) for loc in LOCALES] == ["en", "zh-CN"]
    assert language_tag("nonsense") == "en"


def test_numbers_follow_the_locale():
    assert format_share(0.455, "en") == "46%" and format_share(0.455, "zh_CN") == "46%"
    assert format_usd(600_000, "en") == "$600,000"
    assert format_usd(600_000, "zh_CN") == "US$600,000"
    assert format_number(12.0, "en") == "12" and format_number(2.5, "zh_CN") == "2.5"
    assert format_usd(1_000, "xx") == "$1,000"  # an unknown locale formats as English


# --------------------------------------------------------------------------- catalogs


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_every_marked_message_has_a_chinese_translation(package):
    po = po_of("zh_CN", package)
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in po if m.id}
    missing = set().union(*(extracted(d) for d in SOURCES[package])) - ids
    assert not missing, f"not in the catalog (run `make catalogs`): {sorted(missing)}"
    assert catalog_problems(po) == []


def test_the_advice_and_labels_read_only_marked_messages():
    from riskmodel.advice import messages as advice_messages
    from riskmodel.labels import messages as label_messages

    unmarked = set(advice_messages()) | set(label_messages())
    assert unmarked - extracted(ROOT) == set()


def test_the_catalog_check_fails_on_a_missing_translation_or_a_dropped_placeholder():
    po = read_po(io.BytesIO(
        b'msgid ""\nmsgstr "Content-Type: text/plain; charset=utf-8\\n"\n\n'
        + 'msgid "planned for {v} days"\nmsgstr "计划持续"\n\n'.encode()
        + b'msgid "monthly ad spend is not known"\nmsgstr ""\n'))
    problems = catalog_problems(po)
    assert len(problems) == 2
    assert "placeholders of 'planned for {v} days'" in problems[0]
    assert "untranslated" in problems[1]


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_the_shipped_mo_file_is_the_compiled_po_file(package):
    po = po_of("zh_CN", package)
    buf = io.BytesIO()
    write_mo(buf, po)
    buf.seek(0)
    mo_path = PACKAGES[package] / "locale" / "zh_CN" / "LC_MESSAGES" / f"{package}.mo"
    with open(mo_path, "rb") as f:
        shipped = read_mo(f)
    compiled = read_mo(buf)
    def entries(catalog):
        return {str(m.id): str(m.string) for m in catalog if m.id}
    assert entries(shipped) == entries(compiled), "run `make catalogs`"


# --------------------------------------------------------------------------- the grid


def grid(history_df) -> list[dict]:
    """Generated plans plus plans built to reach every text: each category value, each
    marketplace, every yes/no both ways, unknown where a column may be empty."""
    base = history_df[list(SCHEMA.names)].head(150).astype(object)
    rows = base.where(base.notna(), None).to_dict("records")
    plan = rows[0]
    for col in SCHEMA.columns:
        if col.kind == "category":
            rows += [dict(plan, campaign_id=f"{col.name}-{v}", **{col.name: v})
                     for v in col.categories]
        elif col.kind == "boolean":
            rows += [dict(plan, campaign_id=f"{col.name}-{v}", **{col.name: v})
                     for v in (True, False, None)]
        elif not col.required and col.kind in ("number", "integer"):
            rows.append(dict(plan, campaign_id=f"{col.name}-unknown", **{col.name: None}))
    rows.append(dict(plan, campaign_id="poor", goal_alignment_score=0.1, mou_signed=False,
                     material_delay_days=30, committed_ad_budget_usd=100,
                     annual_sales_usd=10_000, bsr_top100_products=0, marketplace="DE",
                     monthly_ad_spend_usd=100, has_a_plus_content=False,
                     has_video_main_image=False, brand_analytics_active=False))
    rows.append(dict(plan, campaign_id="poor-us", marketplace="US", annual_sales_usd=10_000))
    # beyond the training range (out of the model's depth: its notes are texts too)
    rows.append(dict(plan, campaign_id="beyond", material_delay_days=180,
                     annual_sales_usd=10**12, bsr_top100_products=5000))
    return rows


def texts_of(score) -> list[str]:
    out = [score.escalation] if score.escalation else []
    for f in score.top_factors:
        out += [t for t in (f.reason, f.mitigation) if t]
        if f.what_if:
            out.append(f.what_if.target)
    for w in score.warnings:
        out += [w.message, w.threshold]
    out += [d.message for d in score.out_of_depth]
    for step in score.plan:
        out += [step.target, step.mitigation]
    return out


def plain(score) -> dict:
    """A score without its words: what must not change with the language."""
    return {"id": score.campaign_id, "risk": score.failure_risk, "band": score.risk_band,
            "contributions": score.contributions, "families": score.family_totals,
            "factors": [(f.factor, f.family, f.direction, f.value, f.log_odds,
                         f.actionable, f.reason is None, f.mitigation is None,
                         f.what_if and f.what_if.failure_risk) for f in score.top_factors],
            "warnings": [(w.code, w.column, w.value) for w in score.warnings],
            "escalation": score.escalation is None}


def test_every_reason_and_mitigation_of_a_grid_reads_in_chinese_without_english(
        scorer, history_df):
    rows = grid(history_df)
    k = len(scorer.factors)
    en = scorer.score(rows, k, locale="en")
    zh = scorer.score(rows, k, locale="zh_CN")
    seen_en, seen_zh = set(), set()
    for a, b in zip(en, zh, strict=True):
        assert plain(a) == plain(b)
        seen_en.update(texts_of(a))
        seen_zh.update(texts_of(b))
    assert len(seen_zh) == len(seen_en) > 100
    assert seen_en.isdisjoint(seen_zh)
    left = {t: english_left(t) for t in seen_zh if english_left(t)}
    assert left == {}
    # the grid reached every warning, every level and both answers of every yes/no
    reached = {w.code for s in zh for w in s.warnings}
    assert reached == set(WARNING_CODES)
    # and the plans and the out-of-depth notes were read too
    assert any(s.plan for s in zh)
    assert "beyond_training_range" in {d.code for s in zh for d in s.out_of_depth}


def test_every_advice_text_reads_in_chinese_for_every_kind_of_value():
    from riskmodel.advice import say

    numbers: list[object] = [None, 0.0, 0.25, 3.0, 12.5, 1_250_000.0]
    for name, advice in ADVICE.items():
        reason = advice.reason.localized("zh_CN")
        kind = SCHEMA[name].kind if name in SCHEMA.names else "number"
        values = {"boolean": [None, True, False], "category": [None, *SCHEMA[name].categories]
                  if kind == "category" else []}.get(kind, numbers)
        for v in values:
            text = reason(v)
            assert text and english_left(text) == [], (name, v, text)
        for text in (advice.mitigation, advice.target_label):
            if text:
                assert english_left(say(text, "zh_CN")) == [], (name, text)
    for code in WARNING_CODES:
        assert english_left(warning_label(code, "zh_CN")) == []
    for col in SCHEMA.columns:
        for v in col.categories or ():
            assert english_left(value_label(v, "zh_CN")) == [], v
        assert english_left(riskmodel.label(col.name, "zh_CN")) == [], col.name
    for f in FACTORS:
        assert english_left(riskmodel.family_label(f.family, "zh_CN")) == []


def test_one_campaign_reads_the_same_in_chinese_whichever_path_scored_it(scorer, plans):
    batch = scorer.score(plans[:40], 5, locale="zh_CN")
    one = [scorer.score(p, 5, locale="zh_CN")[0] for p in plans[:40]]
    for a, b in zip(batch, one, strict=True):  # the numbers agree to rounding (test_scoring)
        assert texts_of(a) == texts_of(b) and any(texts_of(a))
        assert [f.factor for f in a.top_factors] == [f.factor for f in b.top_factors]


def test_an_unknown_locale_reads_english(scorer, plans):
    assert scorer.score(plans[:5], 3, locale="xx") == scorer.score(plans[:5], 3)
    assert scorer.score(plans[0], 3, locale="xx") == scorer.score(plans[0], 3)


def test_a_language_s_texts_are_built_when_first_asked_for(trained, plans, monkeypatch):
    """A scorer used in English never builds another language's texts (a command scoring
    in English does not load Chinese number formats); asking for one builds it once, the
    same texts as prepare() builds for a service."""
    import riskmodel.scoring
    from riskmodel import load_model

    root, result = trained
    built = []
    real = riskmodel.scoring.factor_info
    monkeypatch.setattr(riskmodel.scoring, "factor_info",
                        lambda f, locale="en": built.append(locale) or real(f, locale))
    lazy = load_model(result.version, root=root)
    english = lazy.score(plans[:3], 3)
    assert set(built) == {"en"}
    chinese = lazy.score(plans[:3], 3, locale="zh_CN")
    assert set(built) == {"en", "zh_CN"}
    n = len(built)
    lazy.score(plans[0], 3, locale="zh_CN")
    lazy.with_locale("zh_CN")
    assert len(built) == n  # built once
    ready = load_model(result.version, root=root).prepare()
    assert ready.score(plans[:3], 3, locale="zh_CN") == chinese
    assert ready.score(plans[:3], 3) == english


def test_english_is_unchanged_by_the_catalogs(scorer, plans):
    [s] = scorer.score(dict(plans[0], material_delay_days=12.0, goal_alignment_score=0.4),
                       len(scorer.factors))
    reasons = {f.factor: f.reason for f in s.top_factors}
    assert reasons["material_delay_days"] == (
        "creative materials are expected 12 days after the deadline")
    assert reasons["goal_alignment_score"] == (
        "only 40% of the KPI targets are agreed with the AM in writing")


def test_field_messages_read_in_chinese_and_keep_their_codes(scorer):
    from riskmodel import SchemaError, field_message

    bad = {"campaign_id": "x", "marketplace": "Atlantis", "duration_days": 1.5,
           "goal_alignment_score": 2, "mou_signed": "perhaps", "material_delay_days": None,
           "resource_value_usd": 0, "committed_ad_budget_usd": -1}
    with pytest.raises(SchemaError) as caught:
        scorer.score(bad)
    errors = caught.value.errors
    assert len(errors) >= 6
    for e in errors:
        zh = field_message(e, "zh_CN")
        codes = e.allowed.removeprefix("one of ")  # the contract's codes stay codes
        words = zh.replace(codes, "").replace(e.column, "").replace(repr(e.received), "")
        assert e.column in zh and english_left(words.replace("true或false", "")) == [], zh
        d = e.to_dict("zh_CN")
        assert d["message"] == zh
        assert {k: v for k, v in d.items() if k != "message"} == \
            {k: v for k, v in e.to_dict().items() if k != "message"}
    assert field_message(errors[0], "xx") == errors[0].message


def test_every_columns_allowed_values_read_in_chinese():
    from riskmodel.i18n import allowed_in

    for col in SCHEMA.columns:
        zh = allowed_in(col.allowed(), "zh_CN")
        assert zh != col.allowed() or col.kind == "category", col.name


def test_out_of_depth_notes_read_in_chinese_for_every_code():
    from riskmodel.advice import OUT_OF_DEPTH_CODES, out_of_depth_message
    from riskmodel.labels import out_of_depth_label

    cases = [("beyond_training_range", "material_delay_days", 900.0, (-10.0, 60.0)),
             ("rare_level", "marketplace", "PL", None),
             ("rare_level", "mou_signed", True, None),
             ("rarely_unknown", "goal_alignment_score", None, None)]
    for code, factor, value, span in cases:
        en = out_of_depth_message(code, factor, value, span, 12, "en")
        zh = out_of_depth_message(code, factor, value, span, 12, "zh_CN")
        assert factor in en and "12" in en and "12" in zh
        assert english_left(zh) == [], zh
    assert "-10 to 60" in out_of_depth_message(*cases[0][:4], 1_234, "en")
    for code in OUT_OF_DEPTH_CODES:
        assert english_left(out_of_depth_label(code, "zh_CN")) == []


def test_bounded_field_messages_read_in_chinese():
    from riskmodel import MAX_FIELDS, FieldError, field_message
    from riskmodel.validation import CAMPAIGN_ALLOWED, CAMPAIGN_FIELDS, ErrorList, check_fields

    errors = ErrorList()
    assert check_fields({f"k{i}": i for i in range(MAX_FIELDS + 1)}, CAMPAIGN_FIELDS,
                        CAMPAIGN_ALLOWED, 1, errors)
    [too_many] = errors
    zh = field_message(too_many, "zh_CN")
    assert english_left(zh.replace(too_many.column, "")) == [], zh
    assert f"{MAX_FIELDS + 1}" in zh
    long = FieldError(3, "marketplace", "is not an allowed value", "one of US, DE", "x" * 500)
    zh = field_message(long, "zh_CN")
    assert "500" in zh and "x" * 64 in zh and "x" * 65 not in zh, zh
    words = zh.replace("x" * 64, "").replace("US, DE", "").replace("marketplace", "")
    assert english_left(words) == [], zh


def test_numbers_beyond_babels_precision_are_written_scientifically(scorer):
    from riskmodel import format_number, format_share, format_usd

    for locale in ("en", "zh_CN"):
        assert format_number(2.9e307, locale) == "2.9E307"
        assert format_usd(2.9e307, locale).endswith("2.9E307")
        assert format_share(2.9e307, locale) == "2.9E309%"
        assert format_number(1234.0, locale) == "1,234"
    # a campaign JSON may carry (schemathesis found it: a 500), in both languages
    plan = {"campaign_id": "huge", "resource_value_usd": 1.9, "goal_alignment_score": 0.09,
            "committed_ad_budget_usd": 2e-246, "material_delay_days": 37.1,
            "annual_sales_usd": 2.937688546488013e+307, "prior_coop_campaigns": 1e12}
    for locale in ("en", "zh_CN"):
        [one] = scorer.score(plan, len(scorer.factors), locale=locale)
        [many] = scorer.score([plan, dict(plan, campaign_id="huge-2")], len(scorer.factors),
                              locale=locale)[:1]
        assert one.out_of_depth and many.out_of_depth
        assert "E307" in " ".join(d.message for d in one.out_of_depth)
