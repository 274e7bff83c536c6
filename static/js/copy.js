// Copy buttons without inline handlers, so a strict Content-Security-Policy still allows them.
// <button data-copy="#input-id" data-copied-text="Copied"> copies the input's value to the clipboard.
document.querySelectorAll("[data-copy]").forEach(function (button) {
  var label = button.textContent;
  button.addEventListener("click", function () {
    var source = document.querySelector(button.dataset.copy);
    if (!source) { return; }
    var done = function () {
      button.textContent = button.dataset.copiedText || "Copied";
      window.setTimeout(function () { button.textContent = label; }, 2000);
    };
    var fallback = function () {
      // Without the asynchronous clipboard (plain http other than localhost), select and copy.
      source.focus();
      source.select();
      if (document.execCommand("copy")) { done(); }
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.value).then(done, fallback);
    } else {
      fallback();
    }
  });
});
