// A trend as inline SVG: readings from the box's data-readings-url (a remote point's or a virtual
// object's readings in the API) over the chosen window, extended live by the page's "points"
// events (data-point-id), or by "external_write" events and commands' "virtual_object" events
// (data-virtual-object-id). Binary values plot as 0/1 steps.
"use strict";
(function () {
  const box = document.getElementById("trend");
  if (!box) return;
  const select = document.getElementById("trend-window");
  const count = document.getElementById("trend-count");
  const pointId = Number(box.dataset.pointId);  // NaN when absent: a page has one of the two
  const virtualObjectId = Number(box.dataset.virtualObjectId);
  const binary = box.dataset.objectType.includes("binary");
  const NS = "http://www.w3.org/2000/svg";
  const W = 900, H = 260, L = 58, R = 12, T = 12, B = 26;
  let samples = [];
  let loaded = 0, total = 0;  // readings drawn, and in the window on the server (counted live)

  function numeric(v) {
    if (v === "active") return 1;
    if (v === "inactive") return 0;
    return typeof v === "number" ? v : (typeof v === "boolean" ? Number(v) : NaN);
  }
  async function load() {
    const seconds = Number(select.value);
    const since = new Date(Date.now() - seconds * 1000).toISOString();
    const url = `${box.dataset.readingsUrl}?since=${encodeURIComponent(since)}&limit=1000`;
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) { drawMessage(`could not load readings (HTTP ${response.status})`); return; }
    const page = await response.json();
    samples = page.items.map((r) => ({ t: new Date(r.timestamp).getTime(), v: numeric(r.value) })).filter((s) => !Number.isNaN(s.v));
    loaded = page.items.length;
    total = page.count;
    showCount();
    draw();
  }
  function node(tag, attrs, text) {
    const n = document.createElementNS(NS, tag);
    Object.entries(attrs).forEach(([k, v]) => n.setAttribute(k, v));
    if (text !== undefined) n.textContent = text;
    return n;
  }
  function svg() { return node("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": "trend" }); }
  function drawMessage(text) {
    const s = svg();
    s.append(node("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "nodata" }, text));
    box.replaceChildren(s);
  }
  function draw() {
    if (!samples.length) { drawMessage("No readings in this window."); return; }
    const now = Date.now(), t0 = now - Number(select.value) * 1000;
    let lo = Math.min(...samples.map((s) => s.v)), hi = Math.max(...samples.map((s) => s.v));
    if (binary) { lo = 0; hi = 1; }
    if (hi === lo) { hi += 1; lo -= 1; }
    const pad = (hi - lo) * 0.08; lo -= pad; hi += pad;
    const x = (t) => L + ((t - t0) / (now - t0)) * (W - L - R);
    const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
    const s = svg();
    for (let i = 0; i <= 4; i++) {
      const v = lo + ((hi - lo) * i) / 4;
      s.append(node("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "gridline" }));
      s.append(node("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, binary ? (v > 0.5 ? "" : "") : v.toFixed(Math.abs(hi - lo) < 10 ? 2 : 1)));
    }
    if (binary) { s.append(node("text", { x: L - 6, y: y(1) + 4, "text-anchor": "end" }, "active")); s.append(node("text", { x: L - 6, y: y(0) + 4, "text-anchor": "end" }, "inactive")); }
    for (let i = 0; i <= 4; i++) {
      const t = t0 + ((now - t0) * i) / 4, d = new Date(t);
      const label = (now - t0) > 86400000 ? `${d.getMonth() + 1}/${d.getDate()} ${String(d.getHours()).padStart(2, "0")}h` : `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
      s.append(node("text", { x: x(t), y: H - 8, "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle" }, label));
    }
    s.append(node("line", { x1: L, x2: L, y1: T, y2: H - B, class: "axis" }));
    s.append(node("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }));
    let d = "";
    samples.forEach((p, i) => {
      const px = x(p.t).toFixed(1), py = y(p.v).toFixed(1);
      if (i === 0) d += `M${px},${py}`;
      else d += binary ? `H${px}V${py}` : `L${px},${py}`;
    });
    s.append(node("path", { d, class: "line", "vector-effect": "non-scaling-stroke" }));
    if (samples.length < 60) samples.forEach((p) => s.append(node("circle", { cx: x(p.t), cy: y(p.v), r: 2.5, class: "dot" })));
    box.replaceChildren(s);
  }
  function showCount() {
    count.textContent = total > loaded ? `latest ${loaded} of ${total} readings` : `${loaded} reading${loaded === 1 ? "" : "s"}`;
  }
  // A live reading: drawn, and counted in the label that says how many the chart holds.
  function extend(at, value) {
    const v = numeric(value);
    if (!at || Number.isNaN(v)) return;
    samples.push({ t: new Date(at).getTime(), v });
    loaded += 1;
    total += 1;
    showCount();
    draw();
  }
  select.addEventListener("change", load);
  if (window.BMS) {
    window.BMS.on("points", ({ points }) => {
      points.filter((p) => p.id === pointId).forEach((p) => extend(p.value_at, p.value));
    });
    // The stored reading of an external write is the present value it left (effective_value).
    window.BMS.on("external_write", (w) => {
      if (w.object.id === virtualObjectId) extend(w.timestamp, w.effective_value);
    });
    // An operator's or API command (or relinquish) carries the reading it stored.
    window.BMS.on("virtual_object", ({ object, reading }) => {
      if (reading && object.id === virtualObjectId) extend(reading.timestamp, reading.value);
    });
  }
  load();
})();
