// Reloads the playground every few seconds to show what arrived, unless
// someone is typing or has a form open.
(function () {
  "use strict";
  function busy() {
    var a = document.activeElement;
    if (a && (a.tagName === "TEXTAREA" || a.tagName === "INPUT")) return true;
    var fields = document.querySelectorAll("textarea, input[name=digits]");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value !== "") return true;
    }
    return document.querySelector("details[open]") !== null;
  }
  setInterval(function () {
    if (!busy()) window.location.reload();
  }, 3000);
})();
