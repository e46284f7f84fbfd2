// The journey editor: add, move and remove step rows; show the fields of each row's kind and condition, indent
// the rows that sit inside a branch, and show the trigger's picker. A static file: the CSP forbids inline scripts.
(function () {
  "use strict";

  function show(element, visible) {
    if (visible) element.removeAttribute("data-hidden-kind");
    else element.setAttribute("data-hidden-kind", "");
  }

  function refreshRow(row) {
    var kind = row.querySelector("[data-step-kind]").value;
    var lane = row.querySelector("[data-step-lane]").value;
    row.querySelectorAll("[data-kinds]").forEach(function (group) {
      show(group, group.dataset.kinds.split(" ").indexOf(kind) >= 0);
    });
    var cond = row.querySelector("[data-step-cond]").value;
    row.querySelectorAll("[data-conds]").forEach(function (group) { show(group, group.dataset.conds === cond); });
    row.classList.toggle("indented", lane === "yes" || lane === "no");
  }

  function renumber(list) {
    var main = 0, inner = 0;
    list.querySelectorAll("[data-step-row]").forEach(function (row) {
      var lane = row.querySelector("[data-step-lane]").value;
      if (lane === "main") { main += 1; inner = 0; row.querySelector("[data-step-no]").textContent = main + "."; }
      else { inner += 1; row.querySelector("[data-step-no]").textContent = main + "." + inner; }
    });
  }

  function wire(row, list) {
    row.addEventListener("change", function () { refreshRow(row); renumber(list); });
    row.querySelector("[data-step-remove]").addEventListener("click", function () { row.remove(); renumber(list); });
    row.querySelector("[data-step-up]").addEventListener("click", function () {
      if (row.previousElementSibling) list.insertBefore(row, row.previousElementSibling);
      renumber(list);
    });
    row.querySelector("[data-step-down]").addEventListener("click", function () {
      if (row.nextElementSibling) list.insertBefore(row.nextElementSibling, row);
      renumber(list);
    });
    refreshRow(row);
  }

  function refreshTrigger(form) {
    var trigger = form.querySelector("select[name=trigger]");
    var reentry = form.querySelector("select[name=reentry]");
    if (trigger) form.querySelectorAll("[data-ref]").forEach(function (el) { show(el, el.dataset.ref === trigger.value); });
    var days = form.querySelector("[data-reentry-days]");
    if (reentry && days) show(days, reentry.value === "after_days");
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector(".journey-form");
    if (!form) return;
    var list = form.querySelector("[data-step-list]");
    var template = form.querySelector("template[data-step-template]");
    list.querySelectorAll("[data-step-row]").forEach(function (row) { wire(row, list); });
    renumber(list);
    form.querySelector("[data-step-add]").addEventListener("click", function () {
      var row = template.content.firstElementChild.cloneNode(true);
      list.appendChild(row);
      wire(row, list);
      renumber(list);
      row.querySelector("[data-step-kind]").focus();
    });
    form.addEventListener("change", function () { refreshTrigger(form); });
    refreshTrigger(form);
  });
})();
