// 1EdTech LTI Client Side postMessages: platform storage, for browsers that drop third-party cookies.
// At login the state and nonce are put into the platform's storage frame; at launch the state is read back
// and sent with the launch, where a cookie would otherwise have proved it is this browser's own login.
// A frame that can keep neither (no storage offered, cookie dropped) offers a new window instead.
// Messages go to the platform's origin only, and only answers from that origin are believed.
(function () {
  "use strict";
  var el = document.getElementById("lti-storage");
  if (!el) { return; }
  var origin = el.getAttribute("data-origin");
  var targetName = el.getAttribute("data-target");
  var target = null;
  try {
    target = targetName === "_parent" ? window.parent : window.parent.frames[targetName];
  } catch (e) { target = null; }
  var pending = {};
  var counter = 0;

  window.addEventListener("message", function (event) {
    var data = event.data || {};
    if (event.origin !== origin || !data.message_id || !pending[data.message_id]) { return; }
    var done = pending[data.message_id];
    delete pending[data.message_id];
    done(data.error ? null : data);
  });

  function ask(message, timeoutMs) {
    return new Promise(function (resolve) {
      if (!target || target === window) { resolve(null); return; }
      var id = "tinker-" + Date.now() + "-" + (counter += 1);
      message.message_id = id;
      pending[id] = resolve;
      window.setTimeout(function () { if (pending[id]) { delete pending[id]; resolve(null); } }, timeoutMs);
      target.postMessage(message, origin);
    });
  }

  // Inside a frame that keeps no cookie and has no platform storage, the launch could not be tied to this
  // browser: offer the same login in a window of its own, where the OIDC flow runs first-party.
  // Said to screen readers too: the "Opening Tinker…" line goes silently, so the offer is written into the alert
  // region and focus moves to its heading; the status region then tells that the window opened.
  function offerNewWindow() {
    el.hidden = true;
    var section = document.getElementById("lti-new-window");
    var heading = document.getElementById("new-window-h");
    section.hidden = false;
    document.getElementById("new-window-alert").textContent = heading.textContent;
    heading.focus();
    document.getElementById("new-window-form").addEventListener("submit", function () {
      var opened = document.getElementById("new-window-opened");
      opened.textContent = opened.getAttribute("data-text");
    });
  }

  function continueIfCookieKept() {
    window.fetch(el.getAttribute("data-probe"), { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : { cookie: false }; })
      .catch(function () { return { cookie: false }; })
      .then(function (answer) {
        if (answer.cookie) { window.location.replace(el.getAttribute("data-next")); } else { offerNewWindow(); }
      });
  }

  var state = el.getAttribute("data-state");
  var mode = el.getAttribute("data-mode");
  if (mode === "put") {
    var nonce = el.getAttribute("data-nonce");
    Promise.all([
      ask({ subject: "lti.put_data", key: "tinker_state_" + state, value: state }, 2000),
      ask({ subject: "lti.put_data", key: "tinker_nonce_" + nonce, value: nonce }, 2000)
    ]).then(function (answers) {
      if (answers[0] && answers[1]) { window.location.replace(el.getAttribute("data-next")); } else { continueIfCookieKept(); }
    });
  } else if (mode === "check") {
    continueIfCookieKept();
  } else {
    ask({ subject: "lti.get_data", key: "tinker_state_" + state }, 2000).then(function (answer) {
      el.querySelector('input[name="platform_state"]').value = answer && answer.value ? String(answer.value) : "";
      el.submit();
    });
  }
})();
