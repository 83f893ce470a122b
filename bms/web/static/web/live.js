// Live pages: one websocket per page (/ws/live/?groups=... from <body data-groups>), forms that
// post with fetch and report inline, and small renderers that patch table rows in place.
"use strict";
(function () {
  const handlers = {};
  const BMS = (window.BMS = {
    on(type, fn) { (handlers[type] = handlers[type] || []).push(fn); },
    fmt: formatValue,
    valueText,
    time: formatTime,
  });

  // --- websocket with reconnect ------------------------------------------------------------
  // The page's own groups, and those every page's navigation bar follows (alarm counts).
  const groups = [document.body.dataset.groups, document.body.dataset.navGroups].filter(Boolean).join(",");
  const badge = document.getElementById("live");
  let retry = 500;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws/live/?groups=${encodeURIComponent(groups)}`);
    ws.onopen = () => {
      retry = 500;
      setBadge(true);
      // Events sent while the socket was down, or between the server's render of this page
      // and this first open, are gone: catch up by re-reading the live sections (and the
      // alarm counts with them) from the server. Under load that first gap reached seconds,
      // and an acknowledgement completed in it stayed unseen.
      const live = [...document.querySelectorAll("[data-refresh][id]")].map((n) => n.id);
      if (live.length) refreshSections([...live, "alarm-counts"]);
    };
    ws.onmessage = (e) => dispatch(JSON.parse(e.data));
    ws.onclose = () => { setBadge(false); setTimeout(connect, retry); retry = Math.min(retry * 2, 10000); };
  }
  function setBadge(on) {
    if (!badge) return;
    badge.className = "live " + (on ? "on" : "off");
    badge.textContent = on ? "live" : "reconnecting";
  }
  function dispatch(msg) { (handlers[msg.type] || []).forEach((fn) => fn(msg)); }
  if (groups) connect();

  // --- formatting (same rules as the template filters) --------------------------------------
  // Analog values always show two decimals: JSON cannot tell 35.0 from 35, the object type can.
  function formatValue(v, objectType) {
    if (v === null || v === undefined) return "—";
    if (typeof v === "boolean") return v ? "True" : "False";  // as Python's str(), like pv
    const analog = (objectType || "").startsWith("analog");
    if (typeof v === "number" && (analog || !Number.isInteger(v))) return v.toFixed(2);
    return String(v);
  }
  // A value with its state text, as the value_text template tag shows it.
  function valueText(v, objectType, texts) {
    const shown = formatValue(v, objectType);
    texts = texts || [];
    if ((objectType || "").startsWith("binary") && texts.length === 2 && (v === "active" || v === "inactive"))
      return `${shown} (${texts[v === "active" ? 1 : 0]})`;
    if ((objectType || "").startsWith("multi-state") && Number.isInteger(v) && v > 0 && v <= texts.length)
      return `${shown} · ${texts[v - 1]}`;
    return shown;
  }
  function textsOf(node) { return node && node.dataset.stateTexts ? node.dataset.stateTexts.split("|") : []; }
  // "(12 s ago)" next to heartbeats and the like, kept current.
  function refreshAges() {
    document.querySelectorAll("[data-ago]").forEach((node) => {
      const seconds = Math.max(0, Math.round((Date.now() - new Date(node.dataset.ago)) / 1000));
      node.textContent = seconds < 120 ? `(${seconds} s ago)` : `(${Math.round(seconds / 60)} min ago)`;
    });
  }
  refreshAges();
  setInterval(refreshAges, 1000);
  function pad(n) { return String(n).padStart(2, "0"); }
  function formatTime(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    children.forEach((c) => node.append(c instanceof Node ? c : document.createTextNode(c ?? "")));
    return node;
  }
  function flash(row) { row.classList.remove("flash"); void row.offsetWidth; row.classList.add("flash"); }
  function dropEmptyRow(tbody) { const e = tbody.querySelector("tr.empty"); if (e) e.remove(); }

  // --- forms posted with fetch --------------------------------------------------------------
  function csrf() {
    const m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (form.dataset.confirm && !confirm(form.dataset.confirm)) { event.preventDefault(); return; }
    if (!form.hasAttribute("data-async")) return;
    event.preventDefault();
    const status = form.querySelector(".form-status");
    const button = form.querySelector("button[type=submit]");
    const say = (text, ok) => { if (status) { status.textContent = text; status.className = "form-status " + (ok ? "ok" : "bad"); } };
    button && (button.disabled = true);
    try {
      const response = await fetch(form.action, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: { "Accept": "application/json", "X-CSRFToken": csrf() },
      });
      const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
      if (response.ok) {
        say(data.message || "done", true);
        // Forms that change what a section shows name it: it is read again from the server.
        if (form.dataset.refreshAfter) refreshSections(form.dataset.refreshAfter.split(","));
      }
      else say(data.error || data.detail || `HTTP ${response.status}`, false);
    } catch (err) {
      say(`not sent: ${err.message}`, false);
    } finally {
      button && (button.disabled = false);
    }
  });

  // --- tasks ------------------------------------------------------------------------------------
  function progressCell(p) {
    const td = el("td", { class: "progress" });
    p = p || {};
    if (p.total) { td.append(el("progress", { max: p.total, value: p.done || 0 }), ` ${p.done || 0}/${p.total} `); }
    if (p.found !== undefined && p.found !== null) td.append(el("b", {}, `${p.found} found`), " ");
    td.append(el("span", { class: "muted" }, p.message || ""));
    return td;
  }
  function summary(task) {
    const td = el("td", { class: "summary" });
    if (task.error) td.append(el("span", { class: "error" }, task.error.slice(0, 80)));
    else td.append(task.result_text || "");  // bms.tasks.describe's sentence
    return td;
  }
  // `site` is the text of a site cell (tables with data-show-site), null for tables without.
  function taskRow(task, site) {
    const tr = el("tr", { "data-task-id": task.id },
      el("td", { class: "num" }, el("a", { href: `/tasks/${task.id}/` }, String(task.id))),
      el("td", {}, task.type_label),
      el("td", { class: "requester" }, task.requested_by || "—"),
      el("td", {}, el("span", { class: `badge ${task.status}` }, task.status)),
      progressCell(task.progress),
      el("td", { class: "time" }, formatTime(task.created)),
      summary(task));
    if (site !== null) tr.cells[0].after(el("td", { class: "site" }, site));
    return tr;
  }
  BMS.on("task", ({ task }) => {
    document.querySelectorAll("#task-table").forEach((table) => {
      const { filterType, filterStatus, filterSite } = table.dataset;
      const tbody = table.tBodies[0];
      const existing = tbody.querySelector(`tr[data-task-id="${task.id}"]`);
      const matches = (!filterType || filterType === task.type) && (!filterStatus || filterStatus === task.status)
        && (!filterSite || filterSite === task.site) && !(task.scheduled && "hideScheduled" in table.dataset);
      if (existing && !matches) { existing.remove(); return; }
      if (!matches) return;
      const row = taskRow(task, "showSite" in table.dataset ? task.site : null);
      if (existing) existing.replaceWith(row);
      else { dropEmptyRow(tbody); tbody.prepend(row); }
      flash(row);
    });
    const detail = document.querySelector(`#task-detail[data-task-id="${task.id}"]`);
    if (detail) renderTaskDetail(detail, task);
  });
  function renderTaskDetail(root, task) {
    const set = (name, fn) => { const node = root.querySelector(`[data-field="${name}"]`); if (node) fn(node); };
    set("status", (n) => { n.className = `badge ${task.status}`; n.textContent = task.status; });
    set("progress", (n) => { n.replaceChildren(...progressCell(task.progress).childNodes); });
    set("started", (n) => { n.textContent = formatTime(task.started); });
    set("completed", (n) => { n.textContent = formatTime(task.completed); });
    set("worker_id", (n) => { n.textContent = task.worker_id || "—"; });
    set("result", (n) => { n.textContent = task.result === null ? "null" : JSON.stringify(task.result, null, 2); });
    set("error", (n) => { n.textContent = task.error || ""; });
  }

  // --- devices ----------------------------------------------------------------------------------
  // Rows as templates/web/devices.html renders them: a site cell in tables with data-show-site,
  // none of another site's devices in a table filtered to one (data-filter-site). The table is
  // one page of the devices its filters find: a device it does not show may belong on this page
  // (a new one) or on another, which only the server knows, so it reads the table again. The
  // counts above it are of every device found, most of them on no row here: read again too.
  BMS.on("device", ({ device }) => {
    const table = document.getElementById("device-table");
    if (!table) return;
    const tbody = table.tBodies[0];
    const existing = tbody.querySelector(`tr[data-device-id="${device.id}"]`);
    const { filterSite } = table.dataset;
    if (filterSite && filterSite !== device.site) { if (existing) existing.remove(); return; }
    rereadSoon(existing ? ["device-counts"] : ["device-counts", "devices-section"]);
    if (!existing) return;
    const link = (text) => el("a", { href: `/devices/${device.id}/` }, text);
    const row = el("tr", { "data-device-id": device.id, "data-site": device.site },
      el("td", { class: "num" }, link(String(device.device_instance))),
      el("td", {}, link(device.name || "—")),
      el("td", { class: "mono" }, device.address),
      el("td", {}, device.vendor_name), el("td", {}, device.model_name),
      el("td", { class: "num", "data-points": "" }, String(device.point_count)),
      el("td", { class: "time" }, formatTime(device.last_seen)),
      // The COV/poll counts are not in the event: the row keeps its own.
      existing.querySelector("[data-watch]")?.cloneNode(true) || el("td", { class: "small", "data-watch": "" }, "—"),
      el("td", { "data-health": "" }, ...healthNodes(device)));
    if ("showSite" in table.dataset) row.cells[0].after(el("td", { class: "site" }, device.site));
    existing.replaceWith(row);
    flash(row);
  });
  // Events come in bursts (a discovery's answers, a network's devices going quiet together):
  // one re-read a second at most, of every section asked for since the last.
  const REREAD_MS = 1000;
  const rereadIds = new Set();
  let rereadTimer = null;
  function rereadSoon(ids) {
    ids.forEach((id) => rereadIds.add(id));
    if (rereadTimer !== null) return;
    rereadTimer = setTimeout(() => {
      const wanted = [...rereadIds];
      rereadIds.clear();
      rereadTimer = null;
      refreshSections(wanted);
    }, REREAD_MS);
  }
  // A device's health wherever a page shows it (templates/web/_health.html): badge, since, why.
  const HEALTH_BADGES = { online: "completed", unreachable: "pending", offline: "failed" };
  function healthNodes(device) {
    const health = device.health || (device.online ? "online" : "offline");
    const badge = el("span", { class: `badge ${HEALTH_BADGES[health] || "failed"}`, "data-health-for": device.id,
      title: device.health_reason || "" }, health);
    if (!device.health_changed_at) return [badge];
    return [badge, " ", el("span", { class: "muted small", "data-health-since-for": device.id }, `since ${formatTime(device.health_changed_at)}`)];
  }
  BMS.on("device", ({ device }) => {
    document.querySelectorAll(`#monitoring-summary [data-health-for="${device.id}"]`).forEach((badge) => {
      const cell = badge.parentNode;
      cell.querySelector(`[data-health-since-for="${device.id}"]`)?.remove();
      badge.replaceWith(...healthNodes(device));
      flash(cell);
    });
  });
  // A finished read_points/collect of the device on screen brings new points: re-fetch this
  // page and swap in its points section (no reload, nothing else on the page is touched).
  BMS.on("task", ({ task }) => {
    const section = document.getElementById("points-section");
    if (!section || task.status !== "completed") return;
    const instance = Number(section.dataset.deviceInstance);
    const p = task.parameters || {};
    const mine = (task.type === "read_points" && p.device_id === instance) ||
      (task.type === "collect" && (!p.device_ids || p.device_ids.includes(instance)));
    if (mine) refreshSections(["points-section"]);
  });
  function beingEdited(section) {
    return [...section.querySelectorAll("input, select, textarea")].some((field) =>
      field === document.activeElement ||
      (field.type === "checkbox" || field.type === "radio" ? field.checked !== field.defaultChecked
        : field.tagName === "SELECT" ? selectionChanged(field)
        : field.type !== "hidden" && field.value !== field.defaultValue));
  }
  function selectionChanged(select) {
    // With no option marked selected, a single select shows its first: that is its default.
    const defaults = [...select.options].map((o) => o.defaultSelected);
    if (!select.multiple && defaults.length && !defaults.some(Boolean)) defaults[0] = true;
    return [...select.options].some((o, i) => o.selected !== defaults[i]);
  }
  async function refreshSections(ids) {
    if (!ids.length) return;
    let html;
    try {
      const response = await fetch(location.href, { credentials: "same-origin" });
      if (!response.ok) return;
      html = new DOMParser().parseFromString(await response.text(), "text/html");
    } catch (error) {
      // The server went away mid-read (a restart): the socket's reconnect reads them again.
      console.warn("live sections not re-read:", error);
      return;
    }
    ids.forEach((id) => {
      const fresh = html.getElementById(id), current = document.getElementById(id);
      // A section someone is typing in stays as it is (its live events still reach it):
      // swapping it would throw their input away.
      if (fresh && current && !beingEdited(current)) current.replaceWith(document.adoptNode(fresh));
    });
  }

  // --- point values -------------------------------------------------------------------------------
  BMS.on("points", ({ points }) => {
    points.forEach((p) => {
      const row = document.querySelector(`#point-table tr[data-point-id="${p.id}"]`);
      if (row) {
        row.querySelector("[data-value]").textContent = valueText(p.value, p.object_type, textsOf(row));
        row.querySelector("[data-time]").textContent = formatTime(p.value_at);
        const flags = row.querySelector("[data-flags]");
        const names = ["alarm", "fault", "overridden", "out of service"];
        flags.replaceChildren(...(p.status_flags || []).map((on, i) => on ? el("span", { class: "flag" }, names[i]) : "").filter(Boolean));
        flash(row);
      }
      const big = document.querySelector(`#point-value[data-point-id="${p.id}"]`);
      if (big) {
        const cell = big.querySelector("[data-value]");
        cell.textContent = valueText(p.value, p.object_type, textsOf(cell));
        const time = document.getElementById("point-time");
        if (time) time.textContent = formatTime(p.value_at);
      }
    });
  });

  // --- virtual devices -----------------------------------------------------------------------------
  function priorityCell(cell, obj, texts) {
    if (!obj.commandable) { cell.replaceChildren(el("span", { class: "muted" }, "input")); return; }
    const levels = (obj.priority_array || []).map((v, i) => [i + 1, v]).filter(([, v]) => v !== null);
    cell.replaceChildren(...(levels.length ? levels.map(([level, v]) => el("span", { class: "prio" }, el("b", {}, String(level)), ` ${valueText(v, obj.object_type, texts)}`))
      : [el("span", { class: "muted" }, "none (relinquish default)")]));
  }
  function updateObject(obj) {
    const row = document.querySelector(`#object-table tr[data-object-id="${obj.id}"]`);
    if (!row) return;
    const texts = textsOf(row);
    row.querySelector("[data-value]").textContent = valueText(obj.present_value, obj.object_type, texts);
    priorityCell(row.querySelector("[data-priorities]"), obj, texts);
    flash(row);
  }
  function updateObjectValue(obj) {  // the object's own (trend) page
    const big = document.querySelector(`#object-value[data-object-id="${obj.id}"]`);
    if (big) big.textContent = valueText(obj.present_value, obj.object_type, textsOf(big));
  }
  BMS.on("virtual_object", ({ object, deleted }) => {
    if (deleted) {  // its row goes; its own page says it is gone
      document.querySelector(`#object-table tr[data-object-id="${object.id}"]`)?.remove();
      const big = document.querySelector(`#object-value[data-object-id="${object.id}"]`);
      if (big) big.textContent = "deleted";
      return;
    }
    updateObject(object);
    updateObjectValue(object);
  });
  // A row of the virtual device page's "External BACnet writes", as virtual_detail.html renders
  // one: accepted writes come as external_write messages, refused ones as audit messages.
  function showExternalWrite(deviceId, cells, accepted, reason) {
    const log = document.querySelector("#write-log tbody");
    if (!log || !document.querySelector(`#virtual-state[data-virtual-id="${deviceId}"]`)) return;
    dropEmptyRow(log);
    const row = el("tr", {}, ...cells, el("td", {}, ...writeResult(accepted, reason)));
    log.prepend(row);
    flash(row);
  }
  BMS.on("audit", ({ audit: a }) => {
    if (a.source !== "bacnet" || a.accepted || a.virtual_device_id === null) return;
    showExternalWrite(a.virtual_device_id, [
      el("td", { class: "time" }, formatTime(a.time)),
      el("td", { class: "mono" }, a.who),
      el("td", { class: "mono" }, a.object_ref),
      el("td", {}, a.property),
      el("td", { class: "num" }, formatValue(a.new_value, a.object_type)),
      el("td", { class: "num" }, a.priority === null ? "—" : String(a.priority))], false, a.reason);
  });
  BMS.on("external_write", (w) => {
    updateObject(w.object);
    updateObjectValue(w.object);
    showExternalWrite(w.device_id, [
      el("td", { class: "time" }, formatTime(w.timestamp)),
      el("td", { class: "mono" }, w.address),
      el("td", { class: "mono" }, `${w.object.object_type},${w.object.instance}`),
      el("td", {}, w.property),
      el("td", { class: "num" }, formatValue(w.new_value, w.object.object_type)),
      el("td", { class: "num" }, w.priority === null || w.priority === undefined ? "—" : String(w.priority))], true, "");
    const listRow = document.querySelector(`#virtual-table tr[data-virtual-id="${w.device_id}"]`);
    if (listRow) { listRow.querySelector('[data-field="last_write"]').textContent = formatTime(w.timestamp); flash(listRow); }
  });
  BMS.on("virtual_device", ({ device, deleted }) => {
    const listRow = document.querySelector(`#virtual-table tr[data-virtual-id="${device.device_id}"]`);
    if (listRow && deleted) { listRow.remove(); return; }
    const badgeFor = (running) => el("span", { class: `badge ${running ? "completed" : "pending"}` }, running ? "running" : "stopped");
    if (listRow) { listRow.querySelector('[data-field="state"]').replaceChildren(badgeFor(device.is_running)); flash(listRow); }
    const state = document.querySelector(`#virtual-state[data-virtual-id="${device.device_id}"]`);
    if (state) state.replaceChildren(badgeFor(device.is_running));
  });

  // --- audit log ------------------------------------------------------------------------------------
  // A row of payloads.audit_payload's fields, as templates/web/audit.html renders one.
  function auditRow(a) {
    let subject = a.object_ref;
    if (a.point_id) subject = el("a", { href: `/points/${a.point_id}/` }, a.object_ref);
    else if (a.virtual_device_id !== null) subject = el("a", { href: `/virtual/${a.virtual_device_id}/` }, a.object_ref);
    return el("tr", {},
      el("td", { class: "time" }, formatTime(a.time)),
      el("td", {}, a.source_label),
      el("td", { class: "mono" }, a.who),
      el("td", { class: "mono" }, subject),
      el("td", {}, a.property),
      el("td", { class: "num" }, formatValue(a.old_value, a.object_type)),
      el("td", { class: "num" }, a.new_value === null ? "NULL" : formatValue(a.new_value, a.object_type)),
      el("td", { class: "num" }, a.priority === null ? "—" : String(a.priority)),
      el("td", {}, ...writeResult(a.accepted, a.reason)));
  }
  // As templates/web/_write_result.html.
  function writeResult(accepted, reason) {
    return accepted ? [el("span", { class: "badge completed" }, "accepted")]
      : [el("span", { class: "badge failed" }, "refused"), " ", el("span", { class: "small" }, reason)];
  }
  function showAudit(a) {
    const table = document.getElementById("audit-table");
    if (!table || (table.dataset.sourceFilter && table.dataset.sourceFilter !== a.source)) return;
    const tbody = table.tBodies[0];
    dropEmptyRow(tbody);
    const row = auditRow(a);
    tbody.prepend(row);
    flash(row);
    // Keep a page's worth: a page left open through a busy hour stays a page.
    while (tbody.rows.length > Number(table.dataset.pageSize || 50)) tbody.lastElementChild.remove();
  }
  BMS.on("audit", ({ audit }) => showAudit(audit));
  // Accepted external writes reach the page as the virtual devices' external_write messages
  // (the worker stores and sends them in batches); the audit row says what the write said.
  BMS.on("external_write", (w) => {
    const label = document.querySelector('#audit-source option[value="bacnet"]');
    showAudit({
      time: w.timestamp, source: "bacnet", source_label: label ? label.textContent : "BACnet",
      who: w.address, object_ref: `${w.object.object_type},${w.object.instance}`,
      object_type: w.object.object_type, point_id: null, virtual_device_id: w.device_id,
      property: w.property, old_value: w.old_value ?? null, new_value: w.new_value ?? null,
      priority: w.priority ?? null, accepted: true, reason: "",
    });
  });
})();
