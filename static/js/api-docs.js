// Swagger UI over the generated OpenAPI document; a file of its own because the CSP allows no inline script.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // Deep links would put a link inside each operation's toggle button (a control inside a control, which
    // screen readers announce badly); the operations stay one click or Enter away without them.
    deepLinking: false,
    validatorUrl: null,
  });
  // Swagger UI draws its server picker inside an empty label: name it.
  var name = function () {
    root.querySelectorAll(".servers select:not([aria-label])").forEach(function (select) {
      select.setAttribute("aria-label", root.getAttribute("data-msg-server") || "Server");
    });
  };
  new MutationObserver(name).observe(root, { childList: true, subtree: true });
});
