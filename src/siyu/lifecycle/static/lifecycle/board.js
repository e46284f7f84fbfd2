// The stage board: drag a customer card to another column to change their stage. No inline scripts (the CSP
// forbids them): everything is wired here from data attributes. The move is a POST with the CSRF token that
// the page's <body hx-headers> carries for HTMX; the answer is the card as it now is.
(function () {
  "use strict";

  var dragged = null;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  function column(node) {
    return node && node.closest ? node.closest("[data-board-stage]") : null;
  }

  function count(col, delta) {
    var badge = col.querySelector("[data-board-count]");
    if (badge) badge.textContent = String(Math.max(0, parseInt(badge.textContent, 10) + delta));
  }

  function showError(board, message) {
    var box = board.parentNode.querySelector("[data-board-error]");
    if (!box) return;
    box.textContent = message;
    box.hidden = false;
  }

  function clearTargets() {
    document.querySelectorAll(".board-col.drop-target").forEach(function (col) { col.classList.remove("drop-target"); });
  }

  function move(card, from, to) {
    var board = to.closest("[data-board]");
    var box = board.parentNode.querySelector("[data-board-error]");
    if (box) box.hidden = true;
    var next = card.nextSibling;
    to.querySelector("[data-board-cards]").prepend(card);
    card.classList.add("moving");
    count(from, -1);
    count(to, +1);
    var body = new URLSearchParams({customer: card.dataset.customer, stage: to.dataset.boardStage});
    fetch(board.dataset.moveUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {"X-CSRFToken": csrfToken(), "HX-Request": "true", "Content-Type": "application/x-www-form-urlencoded"},
      body: body.toString()
    }).then(function (response) {
      return response.text().then(function (text) { return {ok: response.ok, text: text}; });
    }).then(function (answer) {
      if (!answer.ok) throw new Error(answer.text || "");
      var holder = document.createElement("div");
      holder.innerHTML = answer.text.trim();
      var fresh = holder.firstElementChild;
      card.replaceWith(fresh);
      if (window.htmx) window.htmx.process(fresh);
    }).catch(function (error) {
      // Put the card back where it was and say why.
      from.querySelector("[data-board-cards]").insertBefore(card, next && next.parentNode ? next : null);
      card.classList.remove("moving");
      count(to, -1);
      count(from, +1);
      showError(board, error.message || board.dataset.errorText || "");
    });
  }

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest ? event.target.closest("[data-board-card]") : null;
    if (!card) return;
    dragged = card;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.customer);
    card.classList.add("dragging");
  });

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    clearTargets();
  });

  document.addEventListener("dragover", function (event) {
    var col = column(event.target);
    if (!col || !dragged) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    if (!col.classList.contains("drop-target")) {
      clearTargets();
      col.classList.add("drop-target");
    }
  });

  document.addEventListener("drop", function (event) {
    var to = column(event.target);
    if (!to || !dragged) return;
    event.preventDefault();
    var card = dragged, from = column(card);
    clearTargets();
    if (from && from !== to) move(card, from, to);
  });
})();
