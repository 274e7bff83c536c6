// A print button without an inline handler, so a strict Content-Security-Policy still allows it.
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});
