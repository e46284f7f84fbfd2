// Siyu console behaviour, loaded on every page. No inline scripts (the CSP forbids them).
// The design system's components (docs/design.md): tag picker, date-range quick picks, confirm dialog, modal and
// drawer, stepped forms, toasts, message phone preview. Each one enhances plain HTML that works without it.
(function () {
  "use strict";

  // Charts: <div class="chart" data-chart="ID"> with a <script type="application/json" id="ID"> holding ECharts options.
  function renderCharts(root) {
    if (!window.echarts) return;
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      if (el.dataset.rendered) return;
      var source = document.getElementById(el.dataset.chart);
      if (!source) return;
      var chart = echarts.init(el);
      chart.setOption(JSON.parse(source.textContent));
      el.dataset.rendered = "1";
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }

  // Toasts sit in the page flow under the top bar: they never cover a control, and they stay until closed, because
  // a message that vanished by itself would move everything under the reader's pointer.
  function closableToasts(root) {
    root.querySelectorAll(".toast:not([data-closable])").forEach(function (toast) {
      toast.setAttribute("data-closable", "");
      var close = document.createElement("button");
      close.type = "button";
      close.className = "toast-close";
      close.setAttribute("aria-label", "关闭");
      close.textContent = "×";
      close.addEventListener("click", function () { toast.remove(); });
      toast.appendChild(close);
    });
  }

  // -- tag picker: every multiple select becomes a searchable picker (Tom Select) --------------------------------
  // Options grouped by <optgroup>; an optgroup's data-color colours its chips; data-exclusive allows one of its tags.
  function groupOf(select, value) {
    var option = select.querySelector('option[value="' + CSS.escape(value) + '"]');
    return option && option.parentElement.tagName === "OPTGROUP" ? option.parentElement : null;
  }

  function enhancePickers(root) {
    if (!window.TomSelect) return;
    root.querySelectorAll("select[multiple]:not(.tomselected):not([data-plain])").forEach(function (select) {
      var picker = new TomSelect(select, {
        plugins: ["remove_button"],
        maxOptions: null,
        hidePlaceholder: true,
        closeAfterSelect: true,
        placeholder: select.dataset.placeholder || "搜索或选择",
        render: {
          no_results: function () { return '<div class="no-results">没有匹配的选项</div>'; },
          item: function (data, escape) {
            var group = groupOf(select, data.value);
            var color = group && group.dataset.color ? " chip-" + group.dataset.color : "";
            return '<div class="chip' + color + '">' + escape(data.text) + "</div>";
          },
        },
        onItemAdd: function (value) {
          picker.setTextboxValue("");
          var group = groupOf(select, value);
          if (!group || !group.hasAttribute("data-exclusive")) return;
          group.querySelectorAll("option").forEach(function (other) {
            if (other.value !== value) picker.removeItem(other.value, true);
          });
        },
      });
    });
  }

  // -- dates: a Chinese calendar (flatpickr, zh) on every date and date-time input; two date inputs in one form
  // are a range and get quick picks (今天, 近 7 天, 本月…). The inputs keep ISO values, so forms parse them as before.
  function iso(d) {
    return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0");
  }
  var RANGES = [
    ["今天", function (t) { return [t, t]; }],
    ["昨天", function (t) { var y = new Date(t); y.setDate(t.getDate() - 1); return [y, y]; }],
    ["近 7 天", function (t) { var s = new Date(t); s.setDate(t.getDate() - 6); return [s, t]; }],
    ["近 30 天", function (t) { var s = new Date(t); s.setDate(t.getDate() - 29); return [s, t]; }],
    ["本月", function (t) { return [new Date(t.getFullYear(), t.getMonth(), 1), t]; }],
    ["上月", function (t) { return [new Date(t.getFullYear(), t.getMonth() - 1, 1), new Date(t.getFullYear(), t.getMonth(), 0)]; }],
  ];

  function calendar(input) {
    if (!window.flatpickr || input._flatpickr) return;
    var withTime = input.type === "datetime-local";
    flatpickr(input, {
      // The zh locale names months and weekdays; its screen-reader labels are still English, so name them too.
      locale: Object.assign({}, flatpickr.l10ns.zh || {}, {
        yearAriaLabel: "年", monthAriaLabel: "月", hourAriaLabel: "时", minuteAriaLabel: "分", toggleTitle: "点击切换",
      }),
      dateFormat: withTime ? "Y-m-d H:i" : "Y-m-d",
      enableTime: withTime,
      time_24hr: true,
      allowInput: true,
      disableMobile: true,
    });
    input.setAttribute("placeholder", withTime ? "年-月-日 时:分" : "年-月-日");
  }

  function setDate(input, value) {
    if (input._flatpickr) input._flatpickr.setDate(value, true);
    else input.value = value;
  }

  function enhanceDates(root) {
    root.querySelectorAll("form").forEach(function (form) {
      var dates = form.querySelectorAll('input[type="date"]');
      if (dates.length !== 2 || form.querySelector(".quick-ranges")) return;
      var start = dates[0], end = dates[1];
      var bar = document.createElement("div");
      bar.className = "quick-ranges";
      bar.setAttribute("role", "group");
      bar.setAttribute("aria-label", "快捷日期");
      RANGES.forEach(function (range) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "chip-button";
        button.textContent = range[0];
        button.addEventListener("click", function () {
          var span = range[1](new Date());
          setDate(start, iso(span[0]));
          setDate(end, iso(span[1]));
          bar.querySelectorAll(".chip-button").forEach(function (b) { b.classList.toggle("on", b === button); });
        });
        bar.appendChild(button);
      });
      var anchor = end.closest("label, .field") || end;
      anchor.insertAdjacentElement("afterend", bar);
    });
    root.querySelectorAll('input[type="date"], input[type="datetime-local"]').forEach(calendar);
  }

  // -- dialogs: confirm before what cannot be undone, and modals/drawers opened by a button -----------------------
  var confirmDialog = null;

  function buildConfirm() {
    var dialog = document.createElement("dialog");
    dialog.className = "modal confirm";
    dialog.innerHTML = '<form method="dialog"><div class="modal-head"><strong>请确认</strong></div>' +
      '<p class="modal-body" data-question></p><div class="modal-foot">' +
      '<button class="btn" value="cancel">取消</button><button class="btn primary" value="ok" data-ok>确定</button></div></form>';
    document.body.appendChild(dialog);
    return dialog;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    var question = (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (!question || form.dataset.confirmed) return;
    event.preventDefault();
    confirmDialog = confirmDialog || buildConfirm();
    var danger = submitter && submitter.classList.contains("danger");
    confirmDialog.querySelector("[data-question]").textContent = question;
    var ok = confirmDialog.querySelector("[data-ok]");
    ok.classList.toggle("danger-fill", !!danger);
    ok.textContent = (submitter && submitter.textContent.trim()) || "确定";
    confirmDialog.returnValue = "";
    confirmDialog.onclose = function () {
      if (confirmDialog.returnValue !== "ok") return;
      form.dataset.confirmed = "1";
      form.requestSubmit(submitter || undefined);
      delete form.dataset.confirmed;
    };
    confirmDialog.showModal();
  }, true);

  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-open]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-open"));
      if (dialog && dialog.showModal) { event.preventDefault(); dialog.showModal(); }
      return;
    }
    var closer = event.target.closest("[data-close]");
    if (closer) { closer.closest("dialog").close(); return; }
    // A click on the backdrop (the dialog element itself, outside its panel) closes modals and drawers.
    if (event.target.tagName === "DIALOG" && !event.target.classList.contains("confirm")) event.target.close();
  });

  // -- stepped forms: <form data-steps> with <fieldset data-step="标题"> sections, one shown at a time -------------
  function enhanceSteps(root) {
    root.querySelectorAll("form[data-steps]:not([data-stepped])").forEach(function (form) {
      var steps = Array.prototype.slice.call(form.querySelectorAll("fieldset[data-step]"));
      if (steps.length < 2) return;
      form.setAttribute("data-stepped", "");
      var nav = document.createElement("ol");
      nav.className = "steps";
      var current = 0;
      function show(index) {
        current = index;
        steps.forEach(function (step, i) { step.hidden = i !== index; });
        nav.querySelectorAll("li").forEach(function (li, i) {
          li.classList.toggle("on", i === index);
          li.classList.toggle("done", i < index);
        });
        form.querySelectorAll("[data-step-prev]").forEach(function (b) { b.hidden = index === 0; });
        form.querySelectorAll("[data-step-next]").forEach(function (b) { b.hidden = index === steps.length - 1; });
      }
      steps.forEach(function (step, i) {
        var li = document.createElement("li");
        var button = document.createElement("button");
        button.type = "button";
        button.innerHTML = '<span class="step-no"></span><span class="step-title"></span>';
        button.querySelector(".step-no").textContent = String(i + 1);
        button.querySelector(".step-title").textContent = step.getAttribute("data-step");
        button.addEventListener("click", function () { show(i); });
        li.appendChild(button);
        if (step.querySelector(".has-error, .form-errors")) li.classList.add("error");
        nav.appendChild(li);
      });
      form.insertBefore(nav, form.firstElementChild);
      form.addEventListener("click", function (event) {
        if (event.target.closest("[data-step-next]")) show(Math.min(current + 1, steps.length - 1));
        if (event.target.closest("[data-step-prev]")) show(Math.max(current - 1, 0));
      });
      var firstError = steps.findIndex(function (s) { return s.querySelector(".has-error, .form-errors"); });
      show(firstError >= 0 ? firstError : 0);
    });
  }

  // -- phone preview: a message as the customer sees it, variables filled with sample values -----------------------
  function attachmentCards(container) {
    var cards = [];
    if (!container) return cards;
    container.querySelectorAll("[data-form-row]").forEach(function (row) {
      var value = function (suffix) {
        var input = row.querySelector('[name$="-' + suffix + '"]');
        return input ? input.value.trim() : "";
      };
      var deleted = row.querySelector('[name$="-DELETE"]');
      var kind = value("kind");
      if (!kind || (deleted && deleted.checked)) return;
      // a material from the library shows as its title (the selected option's text)
      var picked = kind === "material" ? row.querySelector('select[name$="-material"]') : null;
      var title = picked && picked.value ? picked.options[picked.selectedIndex].text : value("title");
      cards.push({ kind: kind, title: title, desc: value("desc"), url: value("url") });
    });
    return cards;
  }

  var KIND_NAMES = { image: "图片", link: "链接", miniprogram: "小程序", file: "文件", video: "视频", material: "素材" };

  function renderPreview(preview) {
    var source = document.querySelector(preview.dataset.source);
    var samples = JSON.parse(preview.dataset.samples || "{}");
    var text = source ? source.value : "";
    var screen = preview.querySelector("[data-screen]");
    screen.textContent = "";
    var filled = text.replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(samples, name) ? samples[name] : whole;
    });
    if (filled.trim()) {
      var bubble = document.createElement("div");
      bubble.className = "bubble";
      bubble.textContent = filled;
      screen.appendChild(bubble);
    }
    attachmentCards(document.querySelector(preview.dataset.attachments)).forEach(function (card) {
      var el = document.createElement("div");
      el.className = "bubble card-msg kind-" + card.kind;
      var title = document.createElement("strong");
      title.textContent = card.title || KIND_NAMES[card.kind] || card.kind;
      var desc = document.createElement("span");
      desc.textContent = card.desc || KIND_NAMES[card.kind] || "";
      var badge = document.createElement("em");
      badge.textContent = KIND_NAMES[card.kind] || "";
      el.appendChild(title);
      el.appendChild(desc);
      el.appendChild(badge);
      screen.appendChild(el);
    });
    if (!screen.children.length) {
      var empty = document.createElement("p");
      empty.className = "muted";
      empty.textContent = "输入内容后在这里预览";
      screen.appendChild(empty);
    }
  }

  function enhancePreviews(root) {
    root.querySelectorAll("[data-phone-preview]").forEach(function (preview) {
      renderPreview(preview);
      if (preview.dataset.live) return;
      preview.dataset.live = "1";
      var form = (document.querySelector(preview.dataset.source) || preview).closest("form") || document;
      ["input", "change"].forEach(function (type) {
        form.addEventListener(type, function () { renderPreview(preview); });
      });
      form.addEventListener("click", function (event) {
        if (event.target.closest("[data-add-form]")) setTimeout(function () { renderPreview(preview); }, 0);
      });
    });
  }

  // Selects that submit their form on change (filters, organization switcher).
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-autosubmit]")) event.target.form.requestSubmit();
  });

  function init(root) {
    renderCharts(root);
    closableToasts(root);
    enhancePickers(root);
    enhanceDates(root);
    enhanceSteps(root);
    enhancePreviews(root);
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSettle", function (event) { init(event.target); });
})();
