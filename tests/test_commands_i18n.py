"""The command line's language (commands/i18n.py): help and errors by ``--lang`` or LANG;
``score --lang`` for the text columns, the rejects and the summary."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pandas as pd
import pytest

from commands.i18n import choose
from commands.main import main

TEXT_COLUMNS = re.compile(r"factor_\d+_(reason|mitigation)$")


def has_chinese(text: str) -> bool:
    return re.search(r"[\u4e00-\u9fff]", text) is not None


@pytest.mark.parametrize("args, environ, expected", [
    ([], {}, "en"),
    ([], {"LANG": "zh_CN.UTF-8"}, "zh_CN"),
    ([], {"LANGUAGE": "zh_CN:en", "LANG": "C"}, "zh_CN"),
    ([], {"LC_ALL": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),
    (["--lang", "zh-CN"], {"LANG": "en_US.UTF-8"}, "zh_CN"),
    (["score", "--lang=zh"], {}, "zh_CN"),
    (["--lang", "en"], {"LANG": "zh_CN.UTF-8"}, "en"),
    (["--lang", "tlh"], {"LANG": "zh_CN.UTF-8"}, "zh_CN"),
    (["--lang"], {}, "en"),
    ([], {"LANG": "C"}, "en"),
    ([], {"LANG": "???"}, "en"),
], ids=["nothing", "LANG", "LANGUAGE", "LC_ALL-first", "option-over-LANG", "option-equals",
        "option-en", "unknown-option-then-LANG", "option-without-value", "C", "garbage"])
def test_the_language_comes_from_the_option_then_the_environment(args, environ, expected):
    assert choose(args, environ) == expected


def _cli(*args: str, lang: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES")}
    env["LANG"] = lang
    return subprocess.run([sys.executable, "-m", "commands", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_help_follows_lang_and_the_option():
    zh = _cli("score", "--help", lang="zh_CN.UTF-8")
    assert zh.returncode == 0
    assert "用法" in zh.stdout and "为文件中每个计划中的活动打分" in zh.stdout
    assert "Show this message" not in zh.stdout
    en = _cli("score", "--help", lang="C.UTF-8")
    assert "Usage:" in en.stdout and "Score every planned campaign" in en.stdout
    assert not has_chinese(en.stdout)
    chosen = _cli("--lang", "zh-CN", "--help", lang="en_US.UTF-8")
    assert "亚马逊联合运营活动的失败风险" in chosen.stdout


def test_errors_follow_the_language_and_leave_the_process_as_it_was(runner):
    zh = runner.invoke(main, ["--lang", "zh-CN", "score", "--in", "plans.csv"])
    assert zh.exit_code == 2
    assert "错误：缺少选项" in zh.output and "--out" in zh.output
    en = runner.invoke(main, ["score", "--in", "plans.csv"])
    assert en.exit_code == 2 and "Error: Missing option '--out'" in en.output
    unknown = runner.invoke(main, ["--lang", "xx-!!", "score", "--in", "plans.csv"])
    assert unknown.exit_code == 2 and "Missing option" in unknown.output


def test_score_lang_writes_the_texts_in_chinese_and_nothing_else_changes(
        runner, trained, plans_csv, tmp_path):
    root, _ = trained
    bad = tmp_path / "plans.csv"
    df = pd.read_csv(plans_csv)
    df.loc[3, "marketplace"] = "Atlantis"
    df.to_csv(bad, index=False)
    outs = {}
    for lang in ("en", "zh-CN"):
        out = tmp_path / f"scored-{lang}.csv"
        res = runner.invoke(main, ["score", "--artifacts", str(root), "--in", str(bad),
                                   "--out", str(out), "--lang", lang, "--workers", "2",
                                   "--rejects", str(tmp_path / f"rejects-{lang}.csv")])
        assert res.exit_code == 3, res.output
        outs[lang] = pd.read_csv(out, keep_default_na=False)
    en, zh = outs["en"], outs["zh-CN"]
    texts = [c for c in en.columns if TEXT_COLUMNS.match(c)]
    assert len(texts) == 6
    assert en.drop(columns=texts).equals(zh.drop(columns=texts))
    for col in texts:
        filled = zh[col][zh[col] != ""]
        assert len(filled) and all(has_chinese(t) for t in filled), col
        assert ((en[col] == "") == (zh[col] == "")).all()
    rejects = pd.read_csv(tmp_path / "rejects-zh-CN.csv")
    assert rejects.loc[0, "column"] == "marketplace"
    assert "不是允许的取值" in rejects.loc[0, "reason"]
    assert "is not an allowed value" in pd.read_csv(tmp_path / "rejects-en.csv").loc[0,
                                                                                     "reason"]


def test_score_lang_writes_the_report_in_chinese(runner, trained, plans_csv, tmp_path):
    root, _ = trained
    report = tmp_path / "report.html"
    res = runner.invoke(main, ["score", "--artifacts", str(root), "--in", str(plans_csv),
                               "--out", str(tmp_path / "scored.csv"), "--report", str(report),
                               "--lang", "zh-CN", "--workers", "1"])
    assert res.exit_code == 0, res.output
    html = report.read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in html
    assert "季度检查：plans.csv" in html and "本季度行动清单" in html
    assert "The quarter's action list" not in html
