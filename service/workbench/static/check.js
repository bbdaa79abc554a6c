// The campaign check: send the form to POST /v1/score, draw the answer, apply what-ifs.
// Plain JavaScript, no build step. Every text from the plan or the answer goes in through
// textContent, never as markup.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("check-data").textContent);
  // the page's words, in its language (service/workbench/texts.py)
  var T = JSON.parse(document.getElementById("page-text").textContent);
  function t(key, vars) {
    return (T[key] || key).replace(/\{(\w+)\}/g, function (m, k) {
      return vars && k in vars ? vars[k] : m;
    });
  }
  var form = document.getElementById("check-form");
  var $ = function (id) { return document.getElementById(id); };
  var SVG = "http://www.w3.org/2000/svg";
  var lastRisk = null;

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function pct(x) { return (x * 100).toFixed(1) + "%"; }
  function signed(x) { return (x >= 0 ? "+" : "\u2212") + Math.abs(x).toFixed(2); }
  function label(name) { return data.labels[name] || name; }

  // The form as the API's JSON: numbers as numbers, yes/no as true/false, empty left out
  // (unknown). Text that is not a number goes as typed, so the API names the problem.
  function campaign() {
    var c = {};
    data.fields.forEach(function (f) {
      var input = form.elements[f.name];
      var raw = input.value;
      if (raw.trim() === "") return;
      if (f.kind === "number" || f.kind === "integer") {
        var n = Number(raw.trim());
        c[f.name] = Number.isFinite(n) ? n : raw;
      } else if (f.kind === "boolean") {
        c[f.name] = raw === "true";
      } else {
        c[f.name] = raw;
      }
    });
    return c;
  }

  function shareLink() {
    var params = new URLSearchParams();
    data.fields.forEach(function (f) {
      var v = form.elements[f.name].value;
      if (v.trim() !== "") params.set(f.name, v);
    });
    return location.origin + location.pathname + "?" + params.toString();
  }

  function clearErrors() {
    $("error-summary").hidden = true;
    $("error-list").textContent = "";
    data.fields.forEach(function (f) {
      $("err-" + f.name).textContent = "";
      form.elements[f.name].removeAttribute("aria-invalid");
      $("field-" + f.name).classList.remove("invalid");
    });
  }

  function showErrors(errors) {
    var list = $("error-list");
    errors.forEach(function (e) {
      var known = data.labels[e.column] && $("err-" + e.column);
      var li = el("li");
      if (known) {
        var a = el("a", label(e.column) + ": " + e.message);
        a.href = "#f-" + e.column;
        li.appendChild(a);
        var p = $("err-" + e.column);
        p.textContent = (p.textContent ? p.textContent + " " : "") + e.message;
        form.elements[e.column].setAttribute("aria-invalid", "true");
        $("field-" + e.column).classList.add("invalid");
      } else {
        li.textContent = e.message;
      }
      list.appendChild(li);
    });
    $("error-count").textContent = errors.length === 1 ? t("one_problem") : t("problems", {n: errors.length});
    $("error-summary").hidden = false;
    $("error-summary").focus();
    $("result-status").textContent = t("fix_fields");
    $("result-body").hidden = true;
  }

  function check(applied) {
    clearErrors();
    $("result-status").textContent = t("checking");
    $("check-button").disabled = true;
    var headers = {"content-type": "application/json"};
    if (data.key_required) headers["X-API-Key"] = $("api-key").value;
    return fetch("/v1/score?top_k=" + data.top_k + "&lang=" + encodeURIComponent(data.lang), {
      method: "POST", headers: headers,
      body: JSON.stringify(campaign())
    }).then(function (r) {
      return r.json().then(function (body) { return [r, body]; });
    }).then(function (rb) {
      var r = rb[0], body = rb[1];
      if (r.status === 422 && body.errors) { showErrors(body.errors); return; }
      if (!r.ok) {
        $("result-status").textContent = (body.title || t("error")) + ": " + (body.detail || r.status);
        $("result-body").hidden = true;
        return;
      }
      var before = lastRisk;
      render(body.results[0], body.model_version);
      var note = $("r-applied");
      if (applied && before !== null) {
        note.textContent = t("applied", {target: applied, before: pct(before),
                                         after: pct(body.results[0].failure_risk)});
        note.hidden = false;
      } else {
        note.hidden = true;
      }
      history.replaceState(null, "", shareLink());
      if (!applied) $("result-title").focus();  // a what-if keeps the reader where it is
    }).catch(function (err) {
      $("result-status").textContent = t("failed", {error: err});
    }).finally(function () {
      $("check-button").disabled = false;
    });
  }

  function render(res, version) {
    lastRisk = res.failure_risk;
    $("result-status").textContent = "";
    $("result-body").hidden = false;
    $("r-campaign").textContent = res.campaign_id;
    $("r-risk").textContent = pct(res.failure_risk);
    var band = $("r-band");
    band.textContent = t("band_risk", {band: t(res.risk_band)});
    band.className = "band band-" + res.risk_band;
    $("r-model").textContent = t("model_bands", {version: version,
      medium: pct(data.bands.medium_from), high: pct(data.bands.high_from)});
    reasons(res);
    chart(res);
    warnings(res);
    var esc = $("r-escalation");
    esc.hidden = !res.escalation;
    $("r-escalation-text").textContent = res.escalation || "";
    $("r-link").value = shareLink();
  }

  function reasons(res) {
    var ol = $("r-reasons"), helps = $("r-helps");
    ol.textContent = "";
    helps.textContent = "";
    var raising = res.top_factors.filter(function (f) { return f.direction === "raises"; });
    raising.slice(0, 6).forEach(function (f) {
      var li = el("li");
      li.dataset.factor = f.factor;
      li.dataset.family = f.family;
      li.appendChild(el("strong", label(f.factor)));
      var reason = f.reason || "";
      if (typeof f.value === "string" && data.value_labels[f.value]) {
        reason = reason.replace(f.value, data.value_labels[f.value]);
      }
      li.appendChild(el("span", " — " + reason + t("reason_tail", {log_odds: signed(f.log_odds),
        risk: pct(res.failure_risk - f.probability_points)})));
      if (f.mitigation) li.appendChild(el("p", f.mitigation, "mitigation"));
      if (f.what_if && data.what_ifs[f.factor]) {
        var b = el("button", t("apply", {target: f.what_if.target, risk: pct(f.what_if.failure_risk)}), "what-if");
        b.type = "button";
        b.dataset.factor = f.factor;
        b.addEventListener("click", function () { applyWhatIf(f.factor); });
        li.appendChild(b);
      }
      ol.appendChild(li);
    });
    if (!raising.length) ol.appendChild(el("li", t("none_raises")));
    res.top_factors.filter(function (f) { return f.direction === "lowers"; }).slice(0, 4)
      .forEach(function (f) {
        helps.appendChild(el("li", t("lowers", {factor: label(f.factor), log_odds: signed(f.log_odds)})));
      });
    if (!helps.children.length) helps.appendChild(el("li", t("none_lowers")));
  }

  function applyWhatIf(factor) {
    var w = data.what_ifs[factor];
    var input = form.elements[w.columns[0]];
    if (factor === "budget_match_ratio") {
      var budget = form.elements.committed_ad_budget_usd, value = form.elements.resource_value_usd;
      var need = Number(value.value) * w.value;
      if (Number(budget.value) < need) budget.value = String(need);
    } else if (w.kind === "set") {
      input.value = input.tagName === "SELECT" ? (w.value ? "true" : "false") : String(w.value);
    } else if (input.value.trim() !== "") {
      var x = Number(input.value);
      input.value = String(w.kind === "at_most" ? Math.min(x, w.value) : Math.max(x, w.value));
    }
    return check(w.label);
  }

  // A waterfall of the exact contributions: base value, then each factor (largest first;
  // the smallest few together), ending at the campaign's log-odds.
  function chart(res) {
    var items = Object.keys(res.contributions).map(function (k) {
      return {name: k, value: res.contributions[k]};
    }).sort(function (a, b) { return Math.abs(b.value) - Math.abs(a.value); });
    var shown = items.filter(function (x) { return Math.abs(x.value) >= 0.02; }).slice(0, 12);
    var rest = items.slice(shown.length);
    var restSum = rest.reduce(function (s, x) { return s + x.value; }, 0);
    var rows = [{text: t("base"), start: 0, end: res.base_value, kind: "base"}];
    var at = res.base_value;
    shown.forEach(function (x) {
      rows.push({text: label(x.name), start: at, end: at + x.value, kind: x.value > 0 ? "up" : "down"});
      at += x.value;
    });
    if (rest.length) {
      rows.push({text: t("smaller", {n: rest.length}), start: at, end: at + restSum, kind: restSum > 0 ? "up" : "down"});
      at += restSum;
    }
    rows.push({text: t("this_campaign", {risk: pct(res.failure_risk)}), start: 0, end: res.log_odds, kind: "total"});
    var lo = Math.min(0, Math.min.apply(null, rows.map(function (r) { return Math.min(r.start, r.end); })));
    var hi = Math.max(0, Math.max.apply(null, rows.map(function (r) { return Math.max(r.start, r.end); })));
    // on a phone the labels go above their bars, so the text is not scaled down
    var box = $("r-chart");
    var W = Math.max(300, Math.min(640, box.clientWidth || 640));
    var narrow = W < 520;
    var left = narrow ? 6 : 230, right = 56, rowH = narrow ? 38 : 26, top = 8;
    var barTop = narrow ? 18 : 4, barH = narrow ? 14 : 18;
    var H = top + rows.length * rowH + 28;
    var scale = function (v) { return left + (v - lo) / ((hi - lo) || 1) * (W - left - right); };
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-labelledby", "chart-caption");
    svg.setAttribute("class", "waterfall");
    function add(tag, attrs, text) {
      var n = document.createElementNS(SVG, tag);
      Object.keys(attrs).forEach(function (k) { n.setAttribute(k, attrs[k]); });
      if (text !== undefined) n.textContent = text;
      svg.appendChild(n);
      return n;
    }
    add("line", {x1: scale(0), x2: scale(0), y1: top, y2: H - 24, class: "axis"});
    rows.forEach(function (r, i) {
      var y = top + i * rowH;
      var x0 = scale(Math.min(r.start, r.end)), x1 = scale(Math.max(r.start, r.end));
      if (narrow) add("text", {x: left, y: y + 13, class: "lbl"}, r.text);
      else add("text", {x: left - 8, y: y + 17, "text-anchor": "end", class: "lbl"}, r.text);
      add("rect", {x: x0, y: y + barTop, width: Math.max(1, x1 - x0), height: barH, class: "bar " + r.kind});
      var delta = r.kind === "base" || r.kind === "total" ? r.end : r.end - r.start;
      add("text", {x: x1 + 4, y: y + barTop + 13, class: "val"}, signed(delta));
    });
    add("text", {x: scale(0), y: H - 6, "text-anchor": "middle", class: "val"}, t("even_odds"));
    box.textContent = "";
    box.appendChild(svg);
    var tbody = $("r-numbers");
    tbody.textContent = "";
    var line = function (a, b, c) {
      var tr = el("tr");
      tr.appendChild(el("th", a)).setAttribute("scope", "row");
      tr.appendChild(el("td", b));
      tr.appendChild(el("td", c));
      tbody.appendChild(tr);
    };
    line(t("base"), "", signed(res.base_value));
    items.forEach(function (x) {
      line(label(x.name), data.factor_families[x.name] || "", signed(x.value));
    });
    line(t("total", {risk: pct(res.failure_risk)}), "", signed(res.log_odds));
  }

  function warnings(res) {
    var ul = $("r-warnings");
    ul.textContent = "";
    res.warnings.forEach(function (w) {
      ul.appendChild(el("li", t("expected", {message: w.message, threshold: w.threshold})));
    });
    $("r-warnings-box").hidden = !res.warnings.length;
  }

  form.addEventListener("submit", function (ev) { ev.preventDefault(); check(null); });
  $("r-copy").addEventListener("click", function () {
    var input = $("r-link");
    input.select();
    if (navigator.clipboard) navigator.clipboard.writeText(input.value).catch(function () {});
  });
  if (data.auto) check(null);
})();
