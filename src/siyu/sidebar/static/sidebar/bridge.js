/* The sidebar's one way to talk to WeCom. Inside WeCom it is the official JS-SDK (@wecom/jssdk, vendored);
   inside Siyu's harness (a parent page that plays WeCom's client) it is the harness's implementation of the
   same calls. Either way the page calls SiyuWeCom.register / getContext / getCurExternalContact /
   getCurExternalChat / sendChatMessage, each returning a promise. */
(function () {
  "use strict";
  var harness = null;
  try {
    if (window.parent !== window && window.parent.SiyuHarness) { harness = window.parent.SiyuHarness; }
  } catch (crossOrigin) {
    harness = null; // framed by someone else: not our harness
  }
  var sdk = harness || window.ww;
  var JS_APIS = ["getContext", "getCurExternalContact", "getCurExternalChat", "sendChatMessage"];

  function signature(signed) {
    // Signed by the server for this page's own URL, inlined so the first screen needs no further request.
    return function () { return Promise.resolve(signed); };
  }

  window.SiyuWeCom = {
    inHarness: harness !== null,
    available: !!sdk,
    register: function (config) {
      sdk.register({
        corpId: config.corpid, agentId: Number(config.agentid), jsApiList: JS_APIS,
        getConfigSignature: signature(config.config), getAgentConfigSignature: signature(config.agentConfig)
      });
    },
    getContext: function () { return sdk.getContext(); },
    getCurExternalContact: function () { return sdk.getCurExternalContact(); },
    getCurExternalChat: function () { return sdk.getCurExternalChat(); },
    sendChatMessage: function (message) { return sdk.sendChatMessage(message); }
  };
})();
