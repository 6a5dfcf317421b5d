/* Progressive enhancement only: everything works without this file. */
(function () {
  "use strict";
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
  // show the repeat end fields only when a repeat is chosen
  var radios = document.querySelectorAll('input[name="repeat"]');
  var end = document.querySelector(".bk-repeat-end");
  function sync() {
    var chosen = document.querySelector('input[name="repeat"]:checked');
    if (end) { end.hidden = !chosen || chosen.value === "none"; }
  }
  Array.prototype.forEach.call(radios, function (r) { r.addEventListener("change", sync); });
  if (radios.length) { sync(); }
})();
