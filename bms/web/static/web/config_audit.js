// The audit log's configuration table, live: a row per config_audit event (payloads.
// config_audit_payload), rendered as templates/web/audit.html renders one.
"use strict";
(function () {
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    node.textContent = text ?? "";
    return node;
  }
  const fields = (values) => Object.entries(values || {}).map(([k, v]) => `${k}=${v === null ? "None" : v === true ? "True" : v === false ? "False" : v}`).join(" ");
  window.BMS.on("config_audit", ({ audit }) => {
    const table = document.getElementById("config-audit-table");
    if (!table || (table.dataset.actionFilter && table.dataset.actionFilter !== audit.action)) return;
    const tbody = table.tBodies[0];
    tbody.querySelector("tr.empty")?.remove();
    const row = el("tr", { "data-action": audit.action });
    row.append(
      el("td", { class: "time" }, window.BMS.time(audit.time)),
      el("td", { class: "mono" }, audit.who || "system"),
      el("td", { class: "mono" }, audit.address),
      el("td", {}, audit.action_label),
      el("td", {}, audit.target),
      el("td", { class: "mono small" }, fields(audit.before)),
      el("td", { class: "mono small" }, fields(audit.after)));
    tbody.prepend(row);
    row.classList.add("flash");
    while (tbody.rows.length > Number(table.dataset.pageSize || 50)) tbody.lastElementChild.remove();
  });
})();
