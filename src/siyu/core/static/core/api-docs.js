// Starts Swagger UI on /api/docs from a file, not an inline script: the CSP allows same-origin scripts only.
(function () {
  const root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    // The API uses the console's session: unsafe methods need the CSRF token like any console form.
    requestInterceptor: (request) => {
      request.headers["X-CSRFToken"] = root.dataset.csrfToken;
      return request;
    },
  });
})();
