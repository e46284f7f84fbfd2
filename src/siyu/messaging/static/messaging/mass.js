// The mass-message compose form: show only the audience fields of the chosen target and way, and the time field
// when the send is scheduled. Loaded as a static file (the CSP forbids inline scripts); without it every field shows.
(function () {
  "use strict";

  function checked(form, name) {
    var input = form.querySelector("input[name='" + name + "']:checked");
    return input ? input.value : "";
  }

  function show(form) {
    var target = checked(form, "target"), audience = checked(form, "audience"), when = checked(form, "when");
    form.querySelectorAll("[data-show]").forEach(function (part) {
      var wanted = part.dataset.show.split(" ");
      part.hidden = !wanted.every(function (rule) {
        var pair = rule.split("=");
        return {target: target, audience: audience, when: when}[pair[0]] === pair[1];
      });
    });
  }

  document.addEventListener("change", function (event) {
    var form = event.target.closest("form[data-mass-form]");
    if (form) show(form);
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-mass-form]").forEach(show);
  });
})();
