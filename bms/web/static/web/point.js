// The point page's property browser: when a read_object task of this object moves (queued,
// running, done or failed), re-read the page and swap in the properties section.
"use strict";
(function () {
  const section = () => document.getElementById("properties-section");
  async function refresh() {
    const response = await fetch(location.href, { credentials: "same-origin" });
    if (!response.ok) return;
    const html = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = html.getElementById("properties-section"), current = section();
    if (fresh && current) current.replaceWith(document.adoptNode(fresh));
  }
  window.BMS.on("task", ({ task }) => {
    const node = section();
    if (!node || task.type !== "read_object") return;
    const p = task.parameters || {};
    if (p.device_id === Number(node.dataset.deviceInstance) && p.object === node.dataset.object) refresh();
  });
})();
