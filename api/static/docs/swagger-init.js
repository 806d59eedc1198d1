// Starts Swagger UI on /api/docs (api/docs_assets.py). A file of its own, not an inline
// script, so the page's Content-Security-Policy can allow scripts from this origin only.
(function () {
  "use strict";
  var container = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: container.getAttribute("data-spec-url"),
    domNode: container,
    deepLinking: true,
    persistAuthorization: false,
    // No call to the public validator service: the page works offline.
    validatorUrl: null
  });
})();
