// The campaign table: sort by a column (buttons in the header), filter by text and band.
(function () {
  "use strict";
  // the page's words, in its language (service/workbench/texts.py)
  var T = JSON.parse(document.getElementById("page-text").textContent);
  function t(key, vars) {
    return (T[key] || key).replace(/\{(\w+)\}/g, function (m, k) {
      return vars && k in vars ? vars[k] : m;
    });
  }
  var table = document.getElementById("campaigns");
  if (!table) return;
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var text = document.getElementById("filter-text");
  var band = document.getElementById("filter-band");
  var count = document.getElementById("filter-count");
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var keyOf = rows.map(function (r) { return r.textContent.toLowerCase(); });

  function cellValue(row, i, type) {
    var cell = row.cells[i];
    if (type === "text") return cell.textContent.trim().toLowerCase();
    var v = cell.getAttribute("data-value");
    return v === "" || v === null ? -Infinity : Number(v);
  }

  heads.forEach(function (th, i) {
    var button = th.querySelector("button.sort");
    if (!button) return;
    button.addEventListener("click", function () {
      var type = th.getAttribute("data-type");
      var dir = th.getAttribute("aria-sort") === "descending" ? "ascending" : "descending";
      heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", dir);
      var sign = dir === "ascending" ? 1 : -1;
      var order = rows.map(function (r, k) { return [cellValue(r, i, type), k]; });
      order.sort(function (a, b) {
        if (a[0] < b[0]) return -sign;
        if (a[0] > b[0]) return sign;
        return a[1] - b[1];
      });
      order.forEach(function (o) { body.appendChild(rows[o[1]]); });
    });
  });

  function filter() {
    var t = text.value.trim().toLowerCase(), b = band.value, shown = 0;
    rows.forEach(function (r, k) {
      var ok = (!t || keyOf[k].indexOf(t) >= 0) && (!b || r.getAttribute("data-band") === b);
      r.hidden = !ok;
      if (ok) shown += 1;
    });
    count.textContent = t("showing", {shown: shown, total: rows.length});
  }
  if (text && band) {
    document.getElementById("table-filters").hidden = false;
    text.addEventListener("input", filter);
    band.addEventListener("change", filter);
    filter();
  }
})();
