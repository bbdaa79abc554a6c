// The upload form: a file over the page's limit is refused before it is sent.
(function () {
  "use strict";
  // the page's words, in its language (service/workbench/texts.py)
  var T = JSON.parse(document.getElementById("page-text").textContent);
  function t(key, vars) {
    return (T[key] || key).replace(/\{(\w+)\}/g, function (m, k) {
      return vars && k in vars ? vars[k] : m;
    });
  }
  var form = document.getElementById("upload-form");
  var input = document.getElementById("plan");
  var error = document.getElementById("plan-error");
  var limit = Number(form.dataset.limit);
  form.addEventListener("submit", function (ev) {
    error.textContent = "";
    var file = input.files[0];
    if (!file) {
      ev.preventDefault();
      error.textContent = t("choose_file");
      input.focus();
    } else if (file.size > limit) {
      ev.preventDefault();
      error.textContent = t("file_too_large", {size: (file.size / 1048576).toFixed(1),
                                               limit: Math.round(limit / 1048576)});
      input.focus();
    } else {
      document.getElementById("upload-button").disabled = true;
      document.getElementById("upload-button").textContent = t("scoring");
    }
  });
})();
