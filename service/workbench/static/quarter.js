// The upload form: a file over the page's limit is refused before it is sent.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  var input = document.getElementById("plan");
  var error = document.getElementById("plan-error");
  var limit = Number(form.dataset.limit);
  form.addEventListener("submit", function (ev) {
    error.textContent = "";
    var file = input.files[0];
    if (!file) {
      ev.preventDefault();
      error.textContent = "Choose a plan file to upload.";
      input.focus();
    } else if (file.size > limit) {
      ev.preventDefault();
      error.textContent = "This file is " + (file.size / 1048576).toFixed(1) + " MiB; the page " +
        "checks plans up to " + Math.round(limit / 1048576) + " MiB. Score it with the command " +
        "line: riskmodel score --in PLAN --out scored.csv --report report.html";
      input.focus();
    } else {
      document.getElementById("upload-button").disabled = true;
      document.getElementById("upload-button").textContent = "Scoring…";
    }
  });
})();
