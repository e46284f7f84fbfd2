// The tracked page: ask for consent, then report visible reading time and the deepest scroll.
// Time counts only while the page is visible; each report carries at most data-max seconds, so a phone that
// slept with the page open does not add the hours it slept. When the page is hidden, the last report goes out
// with navigator.sendBeacon, which the browser delivers even as the page goes away.
(function () {
  "use strict";
  var reader = document.getElementById("reader");
  var prompt = document.getElementById("consent");
  if (!reader) { return; }
  var interval = Number(reader.dataset.interval) * 1000;
  var cap = Number(reader.dataset.max);
  var visibleSince = null;  // when the current visible stretch started (ms), null while hidden
  var pending = 0;          // visible ms not reported yet
  var depth = 0;
  var timer = null;
  // Reports wait (queued, each with its own cap) until the server has the reader's consent: a beat that overtook
  // the consent request on a slow network would be refused, and its seconds lost.
  var consentStored = reader.dataset.choice === "y";
  var queued = [];

  function post(url, fields, beacon) {
    var body = new URLSearchParams(fields);
    body.set("visit", reader.dataset.visit);
    if (beacon && navigator.sendBeacon) { navigator.sendBeacon(url, body); return null; }
    return fetch(url, { method: "POST", body: body, credentials: "same-origin", keepalive: true });
  }

  function measureDepth() {
    var doc = document.documentElement;
    var seen = window.scrollY + window.innerHeight;
    var percent = doc.scrollHeight > 0 ? Math.round(Math.min(1, seen / doc.scrollHeight) * 100) : 100;
    if (percent > depth) { depth = percent; }
  }

  function collect() {
    if (visibleSince !== null) {
      var now = Date.now();
      pending += now - visibleSince;
      visibleSince = now;
    }
  }

  function report(final) {
    collect();
    measureDepth();  // scroll events may not have been delivered yet (a phone throttles them)
    var seconds = Math.min(Math.floor(pending / 1000), cap);
    pending -= Math.floor(pending / 1000) * 1000;
    if (seconds === 0 && !final) { return; }
    var fields = { seconds: seconds, depth: depth, final: final ? "1" : "" };
    if (!consentStored) { queued.push(fields); return; }
    var sent = post(reader.dataset.beatUrl, fields, final);
    if (sent) { sent.catch(function () {}); }
  }

  function onVisibility() {
    if (document.visibilityState === "visible") {
      visibleSince = Date.now();
    } else {
      report(true);
      visibleSince = null;
    }
  }

  function start() {
    measureDepth();
    window.addEventListener("scroll", measureDepth, { passive: true });
    document.addEventListener("visibilitychange", onVisibility);
    visibleSince = document.visibilityState === "visible" ? Date.now() : null;
    timer = window.setInterval(function () { if (visibleSince !== null) { report(false); } }, interval);
  }

  if (reader.dataset.choice === "y") { start(); }
  if (prompt) {
    prompt.addEventListener("click", function (event) {
      var choice = event.target.getAttribute("data-choice");
      if (!choice) { return; }
      var stored = post(reader.dataset.consentUrl, { choice: choice }, false);
      reader.dataset.choice = choice;
      prompt.hidden = true;
      if (choice === "y" && timer === null) {
        start();
        stored.then(function (response) {
          consentStored = response.ok;
          if (!consentStored) { return; }
          queued.forEach(function (fields) { post(reader.dataset.beatUrl, fields, false).catch(function () {}); });
          queued = [];
        }).catch(function () {});
      }
    });
  }
})();
