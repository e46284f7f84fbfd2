// "使用当前位置" on the store page: fill the coordinate fields from the browser's geolocation (WGS-84, what
// Store.latitude/longitude hold). Browsers offer it only on HTTPS or localhost; the button says so when refused.
document.querySelectorAll("[data-use-location]").forEach((button) => {
  const form = button.closest("form");
  const status = form.querySelector("[data-location-status]");
  button.addEventListener("click", () => {
    if (!navigator.geolocation) {
      status.textContent = button.dataset.failed;
      return;
    }
    status.textContent = button.dataset.locating;
    navigator.geolocation.getCurrentPosition(
      (position) => {
        form.elements.latitude.value = position.coords.latitude.toFixed(6);
        form.elements.longitude.value = position.coords.longitude.toFixed(6);
        status.textContent = "";
      },
      () => { status.textContent = button.dataset.failed; },
      { enableHighAccuracy: true, timeout: 10000 },
    );
  });
});
