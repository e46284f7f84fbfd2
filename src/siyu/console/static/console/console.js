// Siyu console behaviour, loaded on every page. No inline scripts (the CSP forbids them).
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

  // Toasts fade out by themselves.
  function fadeToasts(root) {
    root.querySelectorAll(".toast").forEach(function (toast) {
      setTimeout(function () { toast.classList.add("hide"); }, 4000);
      setTimeout(function () { toast.remove(); }, 4600);
    });
  }

  // Buttons that ask before doing something that cannot be undone: data-confirm="…".
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);

  // Selects that submit their form on change (filters, organization switcher).
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-autosubmit]")) event.target.form.requestSubmit();
  });

  function init(root) { renderCharts(root); fadeToasts(root); }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSettle", function (event) { init(event.target); });
})();
