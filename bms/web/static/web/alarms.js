// Alarms on every page: the navigation bar's counts follow the `alarms` group; on the alarm
// console and an alarm's page the live sections are re-read from the server, so the order
// (unacknowledged, acknowledged active, history) and the filters stay the server's.
"use strict";
(function () {
  if (!window.BMS) return;
  let pending = null;
  function showCounts(counts) {
    document.querySelectorAll("[data-alarm-count]").forEach((node) => {
      node.textContent = String(counts[node.dataset.alarmCount] ?? node.textContent);
    });
    const nav = document.getElementById("alarm-counts");
    if (nav) nav.classList.toggle("waiting", (counts.unacknowledged || 0) > 0);
  }
  async function refresh(ids) {
    const response = await fetch(location.href, { credentials: "same-origin" });
    if (!response.ok) return;
    const html = new DOMParser().parseFromString(await response.text(), "text/html");
    ids.forEach((id) => {
      const fresh = html.getElementById(id), current = document.getElementById(id);
      if (fresh && current) current.replaceWith(document.adoptNode(fresh));
    });
  }
  // A burst of alarms is one re-read, not one per message.
  function refreshSoon() {
    const ids = ["alarm-console", "alarm-state"].filter((id) => document.getElementById(id));
    if (!ids.length || pending) return;
    pending = setTimeout(() => { pending = null; refresh(ids); }, 100);
  }
  BMS.on("alarms", ({ counts }) => {
    showCounts(counts);
    refreshSoon();
  });
})();
