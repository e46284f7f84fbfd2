/* The store code page: ask the browser for the location only after the customer agrees, then post it with the
   page's own CSRF-protected form. Denied, unavailable or slow: go to the store picker instead. */
(function () {
  "use strict";
  var button = document.querySelector("[data-locate]");
  var form = document.getElementById("locate-form");
  if (!button || !form) return;
  var status = document.querySelector("[data-locate-status]");
  var pickUrl = button.getAttribute("data-pick-url");

  function pick(reason) {
    window.location.assign(pickUrl + (pickUrl.indexOf("?") < 0 ? "?" : "&") + "reason=" + encodeURIComponent(reason));
  }

  if (!("geolocation" in navigator)) {
    if (status) status.textContent = "";
    return; // the picker link stays the only way
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    button.disabled = true;
    if (status) status.textContent = button.getAttribute("data-busy") || "";
    navigator.geolocation.getCurrentPosition(
      function (position) {
        form.elements.latitude.value = position.coords.latitude.toFixed(6);
        form.elements.longitude.value = position.coords.longitude.toFixed(6);
        form.submit();
      },
      function (error) {
        pick(error.code === 1 ? "denied" : error.code === 3 ? "timeout" : "unavailable");
      },
      { enableHighAccuracy: false, timeout: 15000, maximumAge: 300000 }
    );
  });
})();
