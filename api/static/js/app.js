// Shared page behaviour. No inline scripts anywhere: the CSP forbids them.
// htmx requests carry the CSRF token that the console page puts in <meta name="csrf-token">.
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) { event.detail.headers["X-CSRFToken"] = meta.content; }
});
