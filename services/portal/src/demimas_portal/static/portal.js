// Progressive enhancement only: every page works without this file.
// A submitted form disables its buttons, so a double click does not send an action twice.
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") {
    return;
  }
  form.setAttribute("aria-busy", "true");
  form.querySelectorAll("button[type=submit]").forEach(function (button) {
    window.setTimeout(function () { button.disabled = true; }, 0);
  });
});
