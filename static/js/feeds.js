// Calendar feed panels: copy the feed URL (no inline script: the CSP is default-src 'self').
(function () {
  "use strict";
  if (window.reservationsFeedsReady) { return; }
  window.reservationsFeedsReady = true;
  function status(button, text) {
    var panel = button.closest(".feed-copy");
    var out = panel ? panel.querySelector("[data-copy-status]") : null;
    if (out) { out.textContent = text; }
  }
  function fallbackCopy(input) {
    input.focus();
    input.select();
    try { return document.execCommand("copy"); } catch (e) { return false; }
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy-target]") : null;
    if (!button) { return; }
    var input = document.getElementById(button.getAttribute("data-copy-target"));
    if (!input) { return; }
    var ok = button.getAttribute("data-copied-text") || "Copied";
    var failed = button.getAttribute("data-failed-text") || "Copy failed";
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(
        function () { status(button, ok); },
        function () { status(button, fallbackCopy(input) ? ok : failed); }
      );
    } else {
      status(button, fallbackCopy(input) ? ok : failed);
    }
  });
  document.addEventListener("focusin", function (event) {
    var t = event.target;
    if (t && t.hasAttribute && t.hasAttribute("data-feed-url")) { t.select(); }
  });
})();
