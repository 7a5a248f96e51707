// Tinker's small amount of JavaScript. Pages work without it; it only smooths a few steps.
(function () {
  "use strict";

  // Auto-submitted platform forms (development LMS login initiation and id_token post).
  document.querySelectorAll("form[data-autopost]").forEach(function (form) { form.submit(); });

  // Selects that reload their form on change (development LMS course picker).
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // A double click must not send twice (the server is idempotent anyway; this just avoids the wait).
  document.querySelectorAll("button[data-once]").forEach(function (button) {
    button.form.addEventListener("submit", function () {
      window.setTimeout(function () { button.disabled = true; button.setAttribute("aria-busy", "true"); }, 0);
    });
  });

  // Focus the error summary so screen reader users hear what needs fixing.
  var summary = document.querySelector(".error-summary");
  if (summary) { summary.focus(); }

  // XHR helper: the launch token travels in a header, never in a cookie (third-party cookies get blocked).
  var meta = document.querySelector('meta[name="tinker-launch-token"]');
  window.tinkerFetch = function (url, options) {
    options = options || {};
    options.headers = Object.assign({ "X-Launch-Token": meta ? meta.content : "" }, options.headers || {});
    options.credentials = "same-origin";
    return window.fetch(url, options);
  };
})();
