/* The harness plays WeCom's client for the sidebar page in its frame: window.SiyuHarness answers the same calls
   as @wecom/jssdk (register, getContext, getCurExternalContact, getCurExternalChat, sendChatMessage). The
   signatures are checked by the simulator against the tickets it issued, as WeCom refuses a bad one, and a sent
   message is recorded by the simulator in the open chat (docs/simulator.md: check-jsapi-signature,
   send-chat-message). */
(function () {
  "use strict";
  var root = document.getElementById("harness");
  var frame = document.getElementById("sidebar-frame");
  var calls = document.getElementById("calls");
  var sent = document.getElementById("sent");
  var current = document.getElementById("current");
  var chat = null;
  var registered = Promise.reject({errMsg: "register was not called"});
  registered.catch(function () { return null; });

  function note(list, text) {
    var item = document.createElement("li");
    item.textContent = text;
    list.appendChild(item);
  }

  function sidebarNode() {
    try { return frame.contentDocument && frame.contentDocument.getElementById("sidebar"); } catch (e) { return null; }
  }

  function token() {
    // Signing in inside the frame rotates the CSRF token: the sidebar page carries the current one.
    var node = sidebarNode();
    return (node && node.dataset.csrf) || root.dataset.csrf;
  }

  function relay(action, payload) {
    return fetch(root.dataset.relayUrl.replace("ACTION", action), {
      method: "POST", credentials: "same-origin", body: JSON.stringify(payload),
      headers: {"Content-Type": "application/json", "X-CSRFToken": token()}
    }).then(function (response) {
      return response.json().then(function (answer) {
        return response.ok ? answer : Promise.reject({errMsg: answer.error || String(response.status)});
      });
    });
  }

  function call(name, run) {
    return registered.then(run).then(function (answer) {
      note(calls, name + " → " + JSON.stringify(answer));
      return answer;
    }, function (error) {
      note(calls, name + " ✗ " + (error.errMsg || error));
      return Promise.reject(error);
    });
  }

  function check(kind, url, signed) {
    return relay("check-jsapi-signature", {kind: kind, url: url, timestamp: signed.timestamp,
                                           noncestr: signed.nonceStr, signature: signed.signature});
  }

  window.SiyuHarness = {
    register: function (options) {
      var url = frame.contentWindow.location.href.split("#")[0];
      registered = Promise.all([options.getConfigSignature(url), options.getAgentConfigSignature(url)])
        .then(function (signed) { return Promise.all([check("corp", url, signed[0]), check("agent", url, signed[1])]); });
      registered.then(function () { note(calls, "register → config:ok, agentConfig:ok"); },
                      function (error) { note(calls, "register ✗ " + error.errMsg); });
    },
    getContext: function () {
      return call("getContext", function () {
        return {errMsg: "getContext:ok", entry: chat.chat_id ? "group_chat_tools" : "single_chat_tools"};
      });
    },
    getCurExternalContact: function () {
      return call("getCurExternalContact", function () {
        return chat.external_userid ? {errMsg: "getCurExternalContact:ok", userId: chat.external_userid}
          : Promise.reject({errMsg: "getCurExternalContact:fail without context of external contact"});
      });
    },
    getCurExternalChat: function () {
      return call("getCurExternalChat", function () {
        return chat.chat_id ? {errMsg: "getCurExternalChat:ok", chatId: chat.chat_id}
          : Promise.reject({errMsg: "getCurExternalChat:fail without context of external chat"});
      });
    },
    sendChatMessage: function (message) {
      return call("sendChatMessage", function () {
        var payload = {userid: chat.userid, message: message};
        payload[chat.chat_id ? "chat_id" : "external_userid"] = chat.chat_id || chat.external_userid;
        return relay("send-chat-message", payload).then(function (answer) {
          note(sent, JSON.stringify(answer.message));
          return {errMsg: answer.errMsg};
        });
      });
    }
  };

  function open(button) {
    chat = {userid: button.dataset.userid, external_userid: button.dataset.externalUserid || "",
            chat_id: button.dataset.chatId || ""};
    current.textContent = button.textContent + " · " + chat.userid;
    var node = sidebarNode();
    var signedIn = node ? node.dataset.userid : root.dataset.signedIn;
    var leave = Promise.resolve();
    if (signedIn && signedIn !== chat.userid) {
      // Another member's WeCom: whoever was signed in here signs out, the frame signs in as this member.
      leave = fetch(root.dataset.logoutUrl, {method: "POST", credentials: "same-origin",
                                             headers: {"X-CSRFToken": token()}});
      root.dataset.signedIn = "";
    }
    leave.then(function () { frame.src = root.dataset.entryUrl; });
  }

  document.querySelectorAll("button.chat").forEach(function (button) {
    button.addEventListener("click", function () { open(button); });
  });
  frame.addEventListener("load", function () {
    var node = sidebarNode();
    if (node) { root.dataset.signedIn = node.dataset.userid; }
  });
})();
