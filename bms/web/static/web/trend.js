// A trend with uPlot (vendor/uplot): the history API's series (data-series-url: a point's or a
// virtual object's /series) over a chosen range at about one point per pixel, more series added
// from #trend-add (each on the axis of its units), zoom by dragging (the zoomed range is fetched
// again, so details appear), pan with ◀ ▶, hover values in the legend, live values appended
// while the range ends now ("points" events for points, "external_write" and "virtual_object"
// events for virtual objects), and the chart's own data exported as CSV.
"use strict";
(function () {
  const box = document.getElementById("trend");
  if (!box || !window.uPlot) return;
  const count = document.getElementById("trend-count");
  const status = document.getElementById("trend-status");
  const startInput = document.getElementById("trend-start");
  const endInput = document.getElementById("trend-end");
  const COLORS = ["#1769aa", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0f766e"];
  const HEIGHT = 280;

  const series = [source(box.dataset)];
  let range = { start: Date.now() - 3600e3, end: Date.now(), live: true };
  let plot = null;
  let loading = 0;  // a newer load makes an older one's answer stale

  function source(data) {
    return {
      url: data.seriesUrl, label: data.label || "value", units: data.units || "",
      binary: (data.objectType || "").includes("binary"),
      pointId: Number(data.pointId), virtualObjectId: Number(data.virtualObjectId),
      times: [], values: [], resolution: "",
    };
  }
  function numeric(v) {
    if (v === "active") return 1;
    if (v === "inactive") return 0;
    if (typeof v === "boolean") return Number(v);
    return typeof v === "number" ? v : null;
  }
  // A bucket's average (for a binary object, its fraction active); a raw reading's value.
  function itemValue(item) { return item.count > 1 && item.avg !== null ? item.avg : numeric(item.last); }
  function width() { return Math.max(200, Math.floor(box.clientWidth || 900)); }

  async function loadOne(s, token) {
    const params = new URLSearchParams({
      start: new Date(range.start).toISOString(), end: new Date(range.end).toISOString(), points: String(width()),
    });
    const response = await fetch(`${s.url}?${params}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const body = await response.json();
    if (token !== loading) return;
    s.times = body.items.map((i) => new Date(i.time).getTime() / 1000);
    s.values = body.items.map(itemValue);
    s.resolution = body.resolution;
  }
  async function load() {
    const token = ++loading;
    if (range.live) { const span = range.end - range.start; range.end = Date.now(); range.start = range.end - span; }
    showRange();
    try {
      await Promise.all(series.map((s) => loadOne(s, token)));
    } catch (error) {
      status.textContent = `could not load the trend (${error.message})`;
      return;
    }
    if (token !== loading) return;
    draw();
  }

  // uPlot wants one x array for all series: the union of their times, gaps as null.
  function joined() {
    const xs = [...new Set(series.flatMap((s) => s.times))].sort((a, b) => a - b);
    const index = new Map(xs.map((x, i) => [x, i]));
    const columns = series.map((s) => {
      const ys = new Array(xs.length).fill(null);
      s.times.forEach((t, i) => { ys[index.get(t)] = s.values[i]; });
      return ys;
    });
    return [xs, ...columns];
  }
  function unitsOf() { return [...new Set(series.map((s) => s.units || "value"))]; }
  function options() {
    const units = unitsOf();
    const axes = [{}].concat(units.slice(0, 2).map((u, i) => ({ scale: u, label: u, side: i === 0 ? 3 : 1, grid: { show: i === 0 } })));
    const scales = { x: { time: true, range: () => [range.start / 1000, range.end / 1000] } };
    units.forEach((u) => { scales[u] = { auto: true }; });
    return {
      width: width(), height: HEIGHT, scales, axes,
      series: [{ label: "time" }].concat(series.map((s, i) => ({
        label: s.units ? `${s.label} (${s.units})` : s.label, scale: s.units || "value",
        stroke: COLORS[i % COLORS.length], width: 1.6, spanGaps: true,
        paths: s.binary ? uPlot.paths.stepped({ align: 1 }) : undefined,
        points: { show: s.times.length < 60 },
      }))),
      cursor: { drag: { x: true, y: false, setScale: false } },
      hooks: { setSelect: [zoomToSelection] },
    };
  }
  function draw() {
    const data = joined();
    if (plot) plot.destroy();
    box.replaceChildren();
    plot = new uPlot(options(), data, box);
    showCount();
  }
  function showCount() {
    const shown = series.reduce((n, s) => n + s.times.length, 0);
    count.textContent = `${shown} reading${shown === 1 ? "" : "s"}` + (series[0].resolution && series[0].resolution !== "raw" ? ` (${series[0].resolution} buckets)` : "");
    box.dataset.points = String(shown);
    box.dataset.start = new Date(range.start).toISOString();
    box.dataset.end = new Date(range.end).toISOString();
  }
  function showRange() {
    startInput.value = local(range.start);
    endInput.value = local(range.end);
  }
  function local(ms) {
    const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60e3);
    return d.toISOString().slice(0, 19);
  }
  function setRange(start, end, live) {
    range = { start, end, live };
    document.querySelectorAll("#trend-ranges button").forEach((b) => b.classList.remove("selected"));
    load();
  }

  function zoomToSelection(u) {
    if (u.select.width < 3) return;
    const from = u.posToVal(u.select.left, "x") * 1000, to = u.posToVal(u.select.left + u.select.width, "x") * 1000;
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    setRange(from, to, false);
  }
  function pan(fraction) {
    const span = range.end - range.start, shift = span * fraction;
    const end = Math.min(Date.now(), range.end + shift);
    setRange(end - span, end, end >= Date.now() - 1000);
  }

  document.querySelectorAll("#trend-ranges button").forEach((button) => button.addEventListener("click", () => {
    const span = Number(button.dataset.range) * 1000;
    setRange(Date.now() - span, Date.now(), true);
    button.classList.add("selected");
  }));
  document.getElementById("trend-apply").addEventListener("click", () => {
    const start = new Date(startInput.value).getTime(), end = new Date(endInput.value).getTime();
    if (!(start < end)) { status.textContent = "The range must start before it ends."; return; }
    setRange(start, end, end >= Date.now());
  });
  document.getElementById("trend-back").addEventListener("click", () => pan(-0.5));
  document.getElementById("trend-forward").addEventListener("click", () => pan(0.5));
  document.getElementById("trend-zoom-out").addEventListener("click", () => {
    const span = range.end - range.start, end = Math.min(Date.now(), range.end + span / 2);
    setRange(end - span * 2, end, end >= Date.now() - 1000);
  });
  const add = document.getElementById("trend-add");
  if (add) add.addEventListener("change", () => {
    const option = add.selectedOptions[0];
    if (!option || !option.value) return;
    series.push(source({ ...option.dataset, seriesUrl: option.value }));
    option.disabled = true;
    add.value = "";
    load();
  });

  // What the chart shows, one column per series, as a CSV download.
  document.getElementById("trend-export").addEventListener("click", () => {
    const [xs, ...columns] = joined();
    const quote = (text) => `"${String(text).replace(/"/g, '""')}"`;
    const header = ["time"].concat(series.map((s) => quote(s.units ? `${s.label} (${s.units})` : s.label)));
    const lines = xs.map((x, i) => [new Date(x * 1000).toISOString()].concat(columns.map((c) => (c[i] === null ? "" : String(c[i])))).join(","));
    const blob = new Blob([[header.join(","), ...lines].join("\n") + "\n"], { type: "text/csv" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `trend-${new Date(range.start).toISOString()}-${new Date(range.end).toISOString()}.csv`.replace(/:/g, "");
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  });

  // A live value: appended to its series while the range ends now.
  function extend(match, at, value) {
    const v = numeric(value);
    if (!at || v === null || !range.live) return;
    const t = new Date(at).getTime();
    series.filter(match).forEach((s) => { s.times.push(t / 1000); s.values.push(v); });
    if (t > range.end) { const span = range.end - range.start; range.end = t; range.start = t - span; }
    if (plot) { plot.setData(joined()); showCount(); }
  }
  if (window.BMS) {
    window.BMS.on("points", ({ points }) => {
      points.forEach((p) => extend((s) => s.pointId === p.id, p.value_at, p.value));
    });
    // The stored reading of an external write is the present value it left (effective_value).
    window.BMS.on("external_write", (w) => {
      extend((s) => s.virtualObjectId === w.object.id, w.timestamp, w.effective_value);
    });
    // An operator's or API command (or relinquish) carries the reading it stored.
    window.BMS.on("virtual_object", ({ object, reading }) => {
      if (reading) extend((s) => s.virtualObjectId === object.id, reading.timestamp, reading.value);
    });
  }
  // For tests and the curious: the values each series holds.
  box.trend = { values: () => series.map((s) => s.values.slice()), labels: () => series.map((s) => s.label) };
  window.addEventListener("resize", () => { if (plot) plot.setSize({ width: width(), height: HEIGHT }); });
  load();
})();
