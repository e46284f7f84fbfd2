/* The chat sidebar's page code: register with WeCom using the inlined signatures, find the open chat (entry),
   search the libraries as the guide types, and send a script or material with one tap. */
(function () {
  "use strict";
  var root = document.getElementById("sidebar");
  var configNode = document.getElementById("wecom-config");
  var config = configNode ? JSON.parse(configNode.textContent) : null;
  if (!root || !window.SiyuWeCom) { return; }
  var wecom = window.SiyuWeCom;
  var ready = Boolean(config && wecom.available);
  if (ready) { wecom.register(config); }

  function reason(error) {
    return (error && (error.errMsg || error.message)) || String(error);
  }

  function show(node, text, failed) {
    if (!node) { return; }
    node.textContent = text;
    node.classList.toggle("error", Boolean(failed));
  }

  if (root.dataset.screen === "entry") {
    var status = document.getElementById("entry-status");
    if (!ready) { show(status, root.dataset.noWecom || "", true); return; }
    wecom.getContext().then(function (context) {
      if (context.entry === "group_chat_tools") {
        return wecom.getCurExternalChat().then(function (chat) {
          window.location.replace(root.dataset.groupUrl.replace("CHAT", encodeURIComponent(chat.chatId)));
        });
      }
      return wecom.getCurExternalContact().then(function (contact) {
        window.location.replace(root.dataset.customerUrl.replace("EXTERNAL", encodeURIComponent(contact.userId)));
      });
    }).catch(function (error) { show(status, reason(error), true); });
    return;
  }

  if (root.dataset.screen !== "customer") { return; }
  var library = document.getElementById("library");
  var sendStatus = document.getElementById("send-status");
  var search = root.querySelector("form.search input[type=search]");
  var timer = null;

  if (search) {
    search.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        fetch(root.dataset.libraryUrl + "?q=" + encodeURIComponent(search.value.trim()), {credentials: "same-origin"})
          .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
          .then(function (html) { library.innerHTML = html; if (!ready) { disableSends(); } })
          .catch(function () { /* the search button still works without script */ });
      }, 250);
    });
  }

  function disableSends() {
    library.querySelectorAll("button.send").forEach(function (button) { button.disabled = true; });
  }

  function prepare(kind, id, renew) {
    var body = new FormData();
    body.append(kind, id);
    if (renew) { body.append("renew", "1"); }
    return fetch(root.dataset.sendUrl, {
      method: "POST", body: body, credentials: "same-origin", headers: {"X-CSRFToken": root.dataset.csrf}
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (!response.ok) {
          var errors = answer.errors || {};
          var first = Object.keys(errors)[0];
          return Promise.reject({errMsg: first ? errors[first][0] : String(response.status)});
        }
        return answer.message;
      });
    });
  }

  function send(kind, id, renew) {
    return prepare(kind, id, renew).then(function (message) {
      return wecom.sendChatMessage(message).catch(function (error) {
        // WeCom forgets uploaded media after three days: upload again once, then give up.
        if (!renew && /mediaid/i.test(reason(error))) { return send(kind, id, true); }
        return Promise.reject(error);
      });
    });
  }

  library.addEventListener("click", function (event) {
    var button = event.target.closest("button.send");
    if (!button || button.disabled) { return; }
    button.disabled = true;
    show(sendStatus, root.dataset.sending, false);
    send(button.dataset.send, button.dataset.id, false).then(function () {
      show(sendStatus, root.dataset.sent, false);
    }).catch(function (error) {
      show(sendStatus, reason(error), true);
    }).then(function () { button.disabled = false; });
  });
})();
