// The article editor: a formatted editing area over the form's textarea, which keeps the HTML that is submitted.
// The server cleans that HTML to its allow-list, so the toolbar offers only what survives the cleaning.
(function () {
  "use strict";
  function attach(textarea) {
    var bar = document.createElement("div");
    var area = document.createElement("div");
    bar.className = "rich-bar";
    area.className = "rich-area";
    area.contentEditable = "true";
    area.setAttribute("role", "textbox");
    area.setAttribute("aria-multiline", "true");
    area.setAttribute("aria-label", textarea.getAttribute("aria-label") || textarea.name);
    area.innerHTML = textarea.value;
    var tools = JSON.parse(textarea.dataset.richText);
    tools.forEach(function (tool) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn small";
      button.textContent = tool.label;
      button.addEventListener("click", function () {
        area.focus();
        var value = tool.value;
        if (tool.ask) {
          value = window.prompt(tool.ask, "https://");
          if (!value) return;
        }
        document.execCommand(tool.command, false, value);
        sync();
      });
      bar.appendChild(button);
    });
    function sync() { textarea.value = area.innerHTML; }
    area.addEventListener("input", sync);
    textarea.hidden = true;
    textarea.parentNode.insertBefore(bar, textarea);
    textarea.parentNode.insertBefore(area, textarea);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea[data-rich-text]").forEach(attach);
  });
})();
