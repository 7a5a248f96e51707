// Tinker's small amount of JavaScript. Pages work without it; it only smooths a few steps.
(function () {
  "use strict";

  // Auto-submitted platform forms (development LMS login initiation and id_token post).
  document.querySelectorAll("form[data-autopost]").forEach(function (form) { form.submit(); });

  // Selects that reload their form on change: the development LMS course picker only. Not for the tool's own pages,
  // where an arrow key on a closed list fires change (WCAG 3.2.2): they have a button instead.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // A double click must not send twice (the server is idempotent anyway; this just avoids the wait).
  document.querySelectorAll("button[data-once]").forEach(function (button) {
    button.form.addEventListener("submit", function () {
      window.setTimeout(function () { button.disabled = true; button.setAttribute("aria-busy", "true"); }, 0);
    });
  });

  // Back to a form after saving it: the browser refills what was typed, but the page comes afresh from the server
  // with a new submission key, so Save again logged a second copy. The key sent is kept in the page's own history
  // entry and put back when that entry is shown again: the same content saved again is the entry already saved (the
  // server returns it), content changed meanwhile a new entry (the server tells the two apart).
  document.querySelectorAll("form[data-keep-key]").forEach(function (form) {
    var field = form.querySelector('input[name="submission_key"]');
    if (!field || !window.history || !window.history.replaceState) { return; }
    var state = window.history.state;
    if (state && typeof state.tinkerSubmissionKey === "string") { field.value = state.tinkerSubmissionKey; }
    form.addEventListener("submit", function () {
      var kept = {};
      if (window.history.state && typeof window.history.state === "object") {
        Object.keys(window.history.state).forEach(function (name) { kept[name] = window.history.state[name]; });
      }
      kept.tinkerSubmissionKey = field.value;
      try { window.history.replaceState(kept, ""); } catch (e) { /* not allowed here: a copy is logged, as before */ }
    });
  });

  // The language switch brings the page back in the other language, from the server: what was typed in the page's
  // forms is kept for it in this tab's sessionStorage and put back at once (then forgotten), so switching loses
  // nothing. Hidden fields (the launch token, a form's submission key) stay as the new page has them.
  var DRAFT = "tinker-draft";
  var typed = function (form) {
    return Array.prototype.filter.call(form.elements, function (el) {
      return el.name && !el.disabled && ["hidden", "password", "file", "submit", "button", "reset", "image"]
        .indexOf(el.type) < 0;
    });
  };
  var formsOf = function () { return Array.prototype.slice.call(document.querySelectorAll("main form")); };
  var switcher = document.querySelector("form.lang-switch");
  if (switcher) {
    switcher.addEventListener("submit", function () {
      var forms = formsOf().map(function (form) {
        return typed(form).map(function (el) {
          if (el.type === "radio" || el.type === "checkbox") { return [el.name, el.value, el.checked]; }
          if (el.multiple) {
            return [el.name, Array.prototype.filter.call(el.options, function (o) { return o.selected; })
              .map(function (o) { return o.value; })];
          }
          return [el.name, el.value];
        });
      });
      // For the page the switch comes back to: this one, or the form's own page when this one is what a sent form
      // came back as.
      var next = switcher.querySelector('input[name="next"]');
      var path = next ? new URL(next.value, window.location.href).pathname : window.location.pathname;
      try {
        window.sessionStorage.setItem(DRAFT, JSON.stringify({ path: path, at: Date.now(), forms: forms }));
      } catch (e) { /* storage blocked: the page comes back as the server has it, as without JavaScript */ }
    });
  }
  var draft = null;
  try {
    draft = JSON.parse(window.sessionStorage.getItem(DRAFT) || "null");
    window.sessionStorage.removeItem(DRAFT);
  } catch (e) { draft = null; }
  if (draft && draft.path === window.location.pathname && Date.now() - draft.at < 10 * 60 * 1000) {
    formsOf().forEach(function (form, i) {
      var kept = draft.forms[i] || [];
      var fields = typed(form);
      var filled = [];  // fields given their value: several of one name take the kept values in order
      kept.forEach(function (item) {
        var el = fields.filter(function (f) {
          return f.name === item[0] && filled.indexOf(f) < 0 &&
            (f.type === "radio" || f.type === "checkbox" ? f.value === item[1] : true);
        })[0];
        if (!el) { return; }
        filled.push(el);
        if (el.type === "radio" || el.type === "checkbox") {
          el.checked = item[2];
        } else if (el.multiple && Array.isArray(item[1])) {
          Array.prototype.forEach.call(el.options, function (o) { o.selected = item[1].indexOf(o.value) >= 0; });
        } else {
          el.value = item[1];
        }
      });
    });
  }

  // Focus the error summary so screen reader users hear what needs fixing.
  var summary = document.querySelector(".error-summary");
  if (summary) { summary.focus(); }

  // After a save the page comes back with its confirmation at the top. The LMS sizes the frame to the page, so it is
  // the LMS page that scrolls: left where the form was (say, at the foot of a long page), the confirmation would be
  // out of sight and the save would seem to do nothing. Bring it into view and give it the focus.
  // A secret shown only once (a new API token, a webhook's signing secret) is such a confirmation too.
  var toast = summary ? null : document.querySelector("main .toast[role=status], main section[role=status]");
  if (toast) {
    toast.setAttribute("tabindex", "-1");
    toast.focus({ preventScroll: true });
    toast.scrollIntoView({ block: "nearest" });
  }

  // lti.frameResize (Canvas and others): tell the LMS how tall the page is, so the frame fits without a
  // second scrollbar. Sent only to the registration's origins (never "*"); other origins drop it.
  var origins = document.querySelector('meta[name="tinker-platform-origins"]');
  if (origins && window.parent !== window) {
    var targets = origins.content.split(" ").filter(Boolean);
    var lastHeight = 0;
    var announce = function () {
      // The content's own height, not the document's scrollHeight: that never drops below the frame's
      // current height, so a frame sized for a long page would never shrink back for a short one.
      var style = window.getComputedStyle(document.body);
      var height = Math.ceil(document.body.getBoundingClientRect().height +
        parseFloat(style.marginTop) + parseFloat(style.marginBottom));
      if (Math.abs(height - lastHeight) < 4) { return; }
      lastHeight = height;
      targets.forEach(function (origin) {
        try { window.parent.postMessage({ subject: "lti.frameResize", height: height }, origin); } catch (e) { /* ignore */ }
      });
    };
    announce();
    if (window.ResizeObserver) { new ResizeObserver(announce).observe(document.body); }
  }

  // The development LMS, like Canvas, honours lti.frameResize from the tool it frames.
  var toolFrame = document.querySelector("iframe[name=tool-frame]");
  if (toolFrame) {
    window.addEventListener("message", function (event) {
      var data = event.data || {};
      if (event.source === toolFrame.contentWindow && event.origin === window.location.origin &&
          data.subject === "lti.frameResize" && data.height > 0) {
        toolFrame.style.height = Math.max(400, Math.min(data.height, 20000)) + "px";
        toolFrame.setAttribute("data-resized", String(data.height));
      }
    });
  }

  // The development LMS also offers LTI platform storage to the tool it frames (lti_storage_target=_parent).
  if (toolFrame) {
    var stored = {};
    var served = 0;
    window.addEventListener("message", function (event) {
      var data = event.data || {};
      if (event.source !== toolFrame.contentWindow || event.origin !== window.location.origin) { return; }
      if (data.subject === "lti.capabilities") {
        event.source.postMessage({ subject: "lti.capabilities.response", message_id: data.message_id,
          supported_messages: [{ subject: "lti.put_data" }, { subject: "lti.get_data" }] }, event.origin);
      } else if (data.subject === "lti.put_data" || data.subject === "lti.get_data") {
        var key = event.origin + " " + String(data.key);
        if (data.subject === "lti.put_data") { stored[key] = String(data.value); }
        served += 1;
        toolFrame.setAttribute("data-storage-served", String(served));
        event.source.postMessage({ subject: data.subject + ".response", message_id: data.message_id,
          key: data.key, value: stored[key] }, event.origin);
      }
    });
  }

  // XHR helper: the launch token travels in a header, never in a cookie (third-party cookies get blocked).
  var meta = document.querySelector('meta[name="tinker-launch-token"]');
  window.tinkerFetch = function (url, options) {
    options = options || {};
    options.headers = Object.assign({ "X-Launch-Token": meta ? meta.content : "" }, options.headers || {});
    options.credentials = "same-origin";
    return window.fetch(url, options);
  };
})();
