// Swagger UI for the REST API, from the copy the node serves (no CDN); the spec URL comes from the page.
"use strict";
(function () {
  const root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") { return; }
  window.SwaggerUIBundle({ url: root.dataset.spec, domNode: root, deepLinking: false });
})();
