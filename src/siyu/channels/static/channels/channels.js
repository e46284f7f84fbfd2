// Channel code and welcome message forms: add/remove formset rows, show the fields an attachment kind uses,
// show the settings of the chosen policy and red-packet rule. Loaded as a static file (the CSP forbids inline scripts).
(function () {
  "use strict";

  function totalInput(formset) {
    return formset.querySelector("input[name='" + formset.dataset.prefix + "-TOTAL_FORMS']");
  }

  function liveRows(formset) {
    return Array.prototype.filter.call(formset.querySelectorAll("[data-forms] > [data-form-row]"), function (row) {
      var del = row.querySelector("input[name$='-DELETE']");
      return !(del && del.checked);
    });
  }

  function updateAddButton(formset) {
    var max = parseInt(formset.dataset.max || "1000", 10);
    var full = liveRows(formset).length >= max;
    var button = formset.querySelector("[data-add-form]");
    if (button) button.disabled = full;
    var hint = formset.querySelector("[data-full-hint]");
    if (hint) hint.hidden = !full;
  }

  function addRow(formset) {
    var total = totalInput(formset);
    var index = parseInt(total.value, 10);
    var template = formset.querySelector("template[data-empty-form]");
    var holder = document.createElement("div");
    holder.innerHTML = template.innerHTML.replace(/__prefix__/g, String(index));
    var row = holder.firstElementChild;
    formset.querySelector("[data-forms]").appendChild(row);
    total.value = String(index + 1);
    initRow(row);
    updateAddButton(formset);
    var first = row.querySelector("select, input:not([type=hidden])");
    if (first) first.focus();
  }

  function showKindFields(row) {
    var select = row.querySelector("select[data-attachment-kind]");
    if (!select) return;
    row.querySelectorAll("[data-kinds]").forEach(function (field) {
      var kinds = field.dataset.kinds.split(" ");
      field.hidden = kinds.indexOf(select.value) === -1;
    });
  }

  // A material is chosen by typing part of its title: the single select becomes a searchable one (Tom Select).
  function enhanceMaterialPicker(row) {
    var select = row.querySelector("select[data-material-picker]");
    if (!select || !window.TomSelect || select.classList.contains("tomselected")) return;
    new TomSelect(select, {
      maxOptions: null,
      allowEmptyOption: false,
      placeholder: select.querySelector("option[value='']") ? select.querySelector("option[value='']").textContent : "",
      render: { no_results: function () { return '<div class="no-results">没有匹配的素材</div>'; } },
    });
  }

  function initRow(row) {
    showKindFields(row);
    enhanceMaterialPicker(row);
  }

  function showSections(form) {
    var policy = form.querySelector("input[name='policy']:checked");
    form.querySelectorAll("[data-policy-section]").forEach(function (section) {
      section.hidden = !policy || section.dataset.policySection !== policy.value;
    });
    var mode = form.querySelector("input[name='red_packet_mode']:checked");
    form.querySelectorAll("[data-mode-section]").forEach(function (section) {
      section.hidden = !mode || section.dataset.modeSection !== mode.value;
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-add-form]");
    if (!button) return;
    event.preventDefault();
    addRow(button.closest("[data-formset]"));
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("select[data-attachment-kind]")) showKindFields(target.closest("[data-form-row]"));
    if (target.matches("input[name$='-DELETE']")) {
      target.closest("[data-form-row]").classList.toggle("removed", target.checked);
      updateAddButton(target.closest("[data-formset]"));
    }
    var form = target.closest("form");
    var remark = form && form.querySelector("[data-remark-counter]");
    if (remark) updateRemarkCounter(remark);
    if (form && (target.name === "policy" || target.name === "red_packet_mode")) showSections(form);
  });

  // The remark counter: how long the remark gets with this channel's name, an 8-digit date and the longest chosen
  // staff name (the customer's nickname is unknown until they add), against WeCom's limit; the server checks the same.
  function remarkLength(input) {
    var form = input.form;
    var name = form.elements.name ? form.elements.name.value.trim() : "";
    var staff = 0;
    Array.prototype.forEach.call(form.querySelectorAll("select[name='staff'] option:checked, select[name='backup_staff'] option:checked"), function (option) {
      staff = Math.max(staff, Array.from(option.textContent.trim()).length);
    });
    var sizes = {channel: Array.from(name).length, date: parseInt(input.dataset.dateDigits, 10), customer_nickname: 0, staff_name: staff};
    var length = 0;
    input.value.trim().split(/(\{\w+\})/).forEach(function (part) {
      var variable = /^\{(\w+)\}$/.exec(part);
      length += variable && variable[1] in sizes ? sizes[variable[1]] : Array.from(part).length;
    });
    return length;
  }

  function updateRemarkCounter(input) {
    var counter = input.parentNode.querySelector("[data-remark-count]");
    if (!counter) {
      counter = document.createElement("span");
      counter.setAttribute("data-remark-count", "");
      counter.setAttribute("role", "status");
      input.insertAdjacentElement("afterend", counter);
    }
    var length = remarkLength(input);
    var max = parseInt(input.dataset.remarkCounter, 10);
    counter.textContent = length + " / " + max;
    counter.className = "counter" + (length > max ? " over" : "");
  }

  document.addEventListener("input", function (event) {
    var form = event.target.form;
    var input = form && form.querySelector("[data-remark-counter]");
    if (input) updateRemarkCounter(input);
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-remark-counter]").forEach(updateRemarkCounter);
    document.querySelectorAll("[data-formset]").forEach(function (formset) {
      formset.querySelectorAll("[data-forms] > [data-form-row]").forEach(initRow);
      updateAddButton(formset);
    });
    document.querySelectorAll("form").forEach(showSections);
  });
})();
