// clets-watch console: live refresh of the alerts table (plain JS, no build step).
(function () {
  "use strict";
  var live = document.querySelector("[data-live]");
  if (!live) return;
  var url = live.getAttribute("data-live");
  var target = document.getElementById(live.getAttribute("data-target"));
  var seconds = parseInt(live.getAttribute("data-seconds"), 10) || 15;
  var stamp = live.querySelector("[data-updated]");

  function refresh() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.status === 401) { window.location = "/login?next=" + encodeURIComponent(location.pathname + location.search); return null; }
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.text();
      })
      .then(function (html) {
        if (html === null) return;
        target.innerHTML = html;
        live.classList.remove("stale");
        stamp.textContent = new Date().toISOString().slice(11, 19) + " UTC";
      })
      .catch(function () { live.classList.add("stale"); stamp.textContent = "failed, retrying"; });
  }
  stamp.textContent = new Date().toISOString().slice(11, 19) + " UTC";
  setInterval(refresh, seconds * 1000);
})();
