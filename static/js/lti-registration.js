// Dynamic registration finished: tell the platform window that opened or frames this page to close it
// (LTI Dynamic Registration 1.0, "org.imsglobal.lti.close"). The message goes to the platform's origin
// only, never to "*".
(function () {
  "use strict";
  var holder = document.querySelector("[data-lti-close-origin]");
  if (!holder) { return; }
  var origin = holder.getAttribute("data-lti-close-origin");
  var target = window.opener || (window.parent !== window ? window.parent : null);

  function close() {
    if (target && origin) { target.postMessage({ subject: "org.imsglobal.lti.close" }, origin); }
  }

  document.querySelectorAll("[data-lti-close]").forEach(function (button) {
    button.addEventListener("click", close);
  });
  close();
})();
