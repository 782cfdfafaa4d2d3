// Reloads the playground when what it shows has changed (a new SMS, call
// or mail, a status), unless someone is typing or has a form open.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="relay-dev-state"]');
  if (!meta) return;
  var shown = meta.getAttribute("content");
  function busy() {
    var a = document.activeElement;
    if (a && (a.tagName === "TEXTAREA" || a.tagName === "INPUT")) return true;
    var fields = document.querySelectorAll("textarea, input[name=digits]");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value !== "") return true;
    }
    return document.querySelector("details[open]") !== null;
  }
  function check() {
    fetch("/dev/state", {cache: "no-store"}).then(function (r) {
      return r.ok ? r.text() : shown;
    }).then(function (state) {
      if (state !== shown && !busy()) {
        window.location.reload();
        return;
      }
      setTimeout(check, 1500);
    }, function () {
      setTimeout(check, 3000);
    });
  }
  setTimeout(check, 1500);
})();
