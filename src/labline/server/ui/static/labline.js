/* labline web UI: small islands of interactivity over server-rendered pages.
   Charts: uPlot (long series, min/max envelopes) and ECharts (statistical plots), vendored. */
"use strict";
(function () {
  const root = document.body.dataset.root || "";
  const dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
    "#ff9da7", "#9c755f", "#bab0ac"];
  const ink = dark ? "#d8dee9" : "#1f2328";
  const grid = dark ? "rgba(255,255,255,0.08)" : "rgba(0,0,0,0.08)";
  window.labline = { root, PALETTE, dark, ink, grid, charts: [] };

  function toast(msg) {
    const t = document.getElementById("toast");
    if (!t) return;
    t.textContent = msg;
    t.classList.add("show");
    setTimeout(() => t.classList.remove("show"), 4000);
  }
  window.labline.toast = toast;

  async function getJSON(url) {
    const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (!r.ok) {
      const msg = body && body.error ? (body.error.message || body.error) : r.status + " " + r.statusText;
      throw new Error(msg);
    }
    return body;
  }
  window.labline.getJSON = getJSON;

  function alpha(hex, a) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
  }
  window.labline.alpha = alpha;

  function axes() {
    const a = { stroke: ink, grid: { stroke: grid }, ticks: { stroke: grid } };
    return [Object.assign({}, a), Object.assign({ size: 60 }, a)];
  }

  /* ---- an envelope chart: one or more series, each as low/high lines with a band between ---- */
  function envelopeChart(el, sources, opts) {
    // sources: [{label, src, color}]
    const logScale = !!(opts && opts.log);
    const width = Math.max(200, Math.floor(el.clientWidth || 400));
    const height = (opts && opts.height) || 220;
    let plot = null;
    let busy = 0;
    const state = { window: null };

    function setStatus(text, isError) {
      let s = el.querySelector(".chart-status");
      if (!s) { s = document.createElement("div"); s.className = "chart-status"; el.appendChild(s); }
      s.textContent = text || "";
      s.classList.toggle("error", !!isError);
    }

    let initial = (opts && opts.initial) || null;  // the whole series, fetched with others
    async function load(win) {
      const buckets = chartBuckets(width);
      const q = `buckets=${buckets}` + (win ? `&min=${win[0]}&max=${win[1]}` : "");
      busy += 1;
      el.classList.add("busy");
      let parts;
      try {
        if (!win && initial) parts = [await initial];
        else parts = await Promise.all(sources.map((s) => getJSON(s.src + (s.src.includes("?") ? "&" : "?") + q)));
        initial = null;
      } catch (err) {
        initial = null;
        setStatus("could not load: " + err.message, true);
        el.dataset.state = "error";
        busy -= 1;
        return;
      }
      busy -= 1;
      el.classList.remove("busy");
      const xs = new Set();
      parts.forEach((p) => p.x.forEach((x) => xs.add(x)));
      const x = Float64Array.from(xs).sort();
      const index = new Map();
      x.forEach((v, i) => index.set(v, i));
      const data = [x];
      const series = [{}];
      const bands = [];
      const bandMode = !!(opts && opts.bands);
      parts.forEach((p, i) => {
        const color = sources[i].color || PALETTE[i % PALETTE.length];
        const place = (arr) => { const out = new Array(x.length).fill(null); p.x.forEach((v, j) => { out[index.get(v)] = arr[j]; }); return out; };
        if (bandMode) {
          data.push(place(p.mean), place(p.high), place(p.low));
          const m = data.length - 3;
          series.push({ label: sources[i].label, stroke: color, width: 2, spanGaps: true });
          series.push({ label: sources[i].label + " 95% high", stroke: alpha(color, 0.5), width: 0.5, spanGaps: true });
          series.push({ label: sources[i].label + " 95% low", stroke: alpha(color, 0.5), width: 0.5, spanGaps: true });
          bands.push({ series: [m + 1, m + 2], fill: alpha(color, 0.18) });
          p.n_buckets = p.x.length; p.n_points = p.x.length; p.exact = true;
          return;
        }
        data.push(place(p.high), place(p.low));
        const hi = data.length - 2;
        series.push({ label: sources[i].label + (p.exact ? "" : " max"), stroke: color, width: 1.25, spanGaps: true });
        series.push({ label: sources[i].label + (p.exact ? " " : " min"), stroke: color, width: p.exact ? 0 : 1, spanGaps: true, show: !p.exact });
        bands.push({ series: [hi, hi + 1], fill: alpha(color, 0.22) });
      });
      const drawn = parts.reduce((a, p) => a + p.n_buckets, 0);
      const total = parts.reduce((a, p) => a + p.n_points, 0);
      el.dataset.points = String(total);
      el.dataset.drawn = String(drawn);
      el.dataset.exact = String(parts.every((p) => p.exact));
      if (plot) { plot.destroy(); plot = null; }
      el.querySelectorAll(".loading").forEach((n) => n.remove());
      if (x.length === 0) { setStatus("no points in this window"); el.dataset.state = "empty"; return; }
      const o = {
        width, height,
        series, bands,
        axes: axes(),
        scales: { x: { time: false }, y: logScale ? { distr: 3 } : {} },
        legend: { show: sources.length > 1 || !!(opts && opts.legend) },
        cursor: { drag: { x: true, y: false } },
        hooks: {
          setSelect: [(u) => {
            if (u.select.width < 3) return;
            const a = u.posToVal(u.select.left, "x");
            const b = u.posToVal(u.select.left + u.select.width, "x");
            u.setSelect({ left: 0, width: 0 }, false);
            state.window = [Math.floor(a), Math.ceil(b)];
            load(state.window);
          }],
        },
      };
      plot = new uPlot(o, data, el);
      el.dataset.state = "drawn";
      el.dataset.scale = logScale ? "log" : "linear";
      performance.mark("labline:chart-drawn");  // read by benchmarks/bench_ui.py
      el.dataset.window = state.window ? state.window.join(",") : "";
      setStatus(parts.every((p) => p.exact) ? `${total} points` : `${total} points as ${drawn} min/max buckets`);
      el.ondblclick = () => { state.window = null; load(null); };
    }
    load(null);
    return { reload: () => load(state.window) };
  }
  window.labline.envelopeChart = envelopeChart;

  function drawCurves() {
    const el = document.getElementById("curves-chart");
    const holder = document.getElementById("curves-sources");
    if (!el || !holder) return;
    const sources = JSON.parse(holder.textContent);
    envelopeChart(el, sources, { log: el.dataset.log === "1", legend: true, height: 380, bands: el.dataset.kind === "bands" });
  }

  function chartBuckets(width) { return Math.min(4000, Math.max(50, width)); }

  /* a run page's charts: their series come in batches of up to 50 keys, one request each */
  function drawRunCharts() {
    const log = document.getElementById("log-scale");
    const charts = Array.from(document.querySelectorAll('.chart[data-kind="envelope"]'));
    const batchOf = new Map();
    for (let i = 0; i < charts.length; i += 50) {
      const group = charts.slice(i, i + 50);
      const first = group[0];
      const url = new URL(first.dataset.batch, window.location.href);
      url.searchParams.set("buckets", String(chartBuckets(Math.floor(first.clientWidth || 400))));
      group.forEach((el) => url.searchParams.append("key", el.dataset.key));
      const batch = getJSON(url.toString());
      group.forEach((el) => batchOf.set(el, batch));
    }
    charts.forEach((el) => {
      const initial = batchOf.get(el).then((b) => b.series[el.dataset.key]);
      initial.catch(() => {});  // the chart reports it
      envelopeChart(el, [{ label: el.dataset.key, src: el.dataset.src }], { log: log && log.checked, initial });
    });
  }

  /* ---- runs table: selection in the URL, column chooser, keyboard navigation ---- */
  function runsTable() {
    const form = document.getElementById("runs-form");
    if (!form) return;
    const selInput = document.getElementById("sel-input");
    const colsInput = document.getElementById("cols-input");

    function selection() { return (selInput.value || "").split(",").filter(Boolean); }
    function setSelection(ids) {
      selInput.value = ids.join(",");
      const url = new URL(window.location.href);
      if (ids.length) url.searchParams.set("sel", ids.join(",")); else url.searchParams.delete("sel");
      history.replaceState(history.state, "", url);
      const count = document.getElementById("sel-count");
      if (count) count.textContent = String(ids.length);
      const cmp = document.getElementById("sel-compare");
      if (cmp) cmp.href = `${root}/compare?runs=${ids.join(",")}`;
      const cur = document.getElementById("sel-curves");
      if (cur) cur.href = `${root}/curves?runs=${ids.join(",")}`;
      document.querySelectorAll("#runs tbody tr").forEach((tr) => {
        const on = ids.includes(tr.dataset.run);
        tr.classList.toggle("selected", on);
        const box = tr.querySelector(".run-sel");
        if (box) box.checked = on;
      });
    }
    function toggle(id, on) {
      let ids = selection();
      if (on && !ids.includes(id)) ids.push(id);
      if (!on) ids = ids.filter((x) => x !== id);
      setSelection(ids);
    }
    document.addEventListener("change", (ev) => {
      const t = ev.target;
      if (t.classList && t.classList.contains("run-sel")) toggle(t.value, t.checked);
      if (t.id === "sel-all") {
        document.querySelectorAll("#runs .run-sel").forEach((b) => toggle(b.value, t.checked));
      }
      if (t.classList && t.classList.contains("col-choice")) {
        const cols = Array.from(document.querySelectorAll(".col-choice:checked")).map((b) => b.value);
        colsInput.value = cols.join(",");
        form.requestSubmit();
      }
    });
    document.addEventListener("click", (ev) => {
      if (ev.target.id === "sel-clear") setSelection([]);
    });
    // after htmx swaps the table, the URL is the truth: reflect it in the hidden fields
    document.body.addEventListener("htmx:afterSettle", () => {
      const url = new URL(window.location.href);
      colsInput.value = url.searchParams.get("cols") || colsInput.value;
      setSelection(selection());
      focusRow(0);
    });
    let current = -1;
    function rows() { return Array.from(document.querySelectorAll("#runs tbody tr")); }
    function focusRow(i) {
      const rs = rows();
      if (!rs.length) return;
      current = Math.max(0, Math.min(rs.length - 1, i));
      rs.forEach((r, j) => r.classList.toggle("cursor", j === current));
      rs[current].scrollIntoView({ block: "nearest" });
    }
    document.addEventListener("keydown", (ev) => {
      const tag = (ev.target.tagName || "").toLowerCase();
      if (tag === "input" || tag === "select" || tag === "textarea") {
        if (ev.key === "Escape") ev.target.blur();
        return;
      }
      if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
      const rs = rows();
      if (ev.key === "/") { ev.preventDefault(); document.getElementById("filter").focus(); }
      else if (ev.key === "j" || ev.key === "ArrowDown") { ev.preventDefault(); focusRow(current + 1); }
      else if (ev.key === "k" || ev.key === "ArrowUp") { ev.preventDefault(); focusRow(current - 1); }
      else if ((ev.key === "x" || ev.key === " ") && rs[current]) {
        ev.preventDefault();
        toggle(rs[current].dataset.run, !rs[current].classList.contains("selected"));
      } else if (ev.key === "Enter" && rs[current]) {
        window.location.href = rs[current].querySelector(".run-link").href;
      } else if (ev.key === "n") { const n = document.querySelector('.pager a[rel="next"]'); if (n) n.click(); }
      else if (ev.key === "p") { const p = document.querySelector('.pager a[rel="prev"]'); if (p) p.click(); }
    });
  }

  /* ---- keyboard in the other tables (table[data-nav]): j/k or arrows move, Enter opens ---- */
  function navTables() {
    if (document.getElementById("runs-form")) return;  // the runs table has its own keys
    const table = document.querySelector("table[data-nav]");
    if (!table) return;
    const rows = () => Array.from(table.querySelectorAll("tbody tr"));
    let current = -1;
    const focus = (i) => {
      const rs = rows();
      if (!rs.length) return;
      current = Math.max(0, Math.min(rs.length - 1, i));
      rs.forEach((r, j) => r.classList.toggle("cursor", j === current));
      rs[current].scrollIntoView({ block: "nearest" });
    };
    document.addEventListener("keydown", (ev) => {
      const tag = (ev.target.tagName || "").toLowerCase();
      if (tag === "input" || tag === "select" || tag === "textarea" || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      if (ev.key === "j" || ev.key === "ArrowDown") { ev.preventDefault(); focus(current + 1); }
      else if (ev.key === "k" || ev.key === "ArrowUp") { ev.preventDefault(); focus(current - 1); }
      else if (ev.key === "Enter" && current >= 0) {
        const link = rows()[current].querySelector("a[href]");
        if (link) window.location.href = link.href;
      }
    });
  }

  /* ---- statistical plots (ECharts): forest plot of effects, bootstrap histogram ---- */
  function echartsBase() {
    return {
      backgroundColor: "transparent",
      textStyle: { color: ink, fontFamily: "DejaVu Sans, sans-serif" },
      grid: { left: 140, right: 24, top: 16, bottom: 36 },
      animation: false,
    };
  }
  function axisStyle() {
    return { axisLine: { lineStyle: { color: grid } }, axisLabel: { color: ink }, splitLine: { lineStyle: { color: grid } } };
  }
  /* ECharts loads async (it is large and only draws once data is there): run fn when ready */
  function withECharts(fn) {
    if (window.echarts) { fn(); return; }
    const tag = document.getElementById("echarts-js");
    if (tag) tag.addEventListener("load", fn, { once: true });
  }

  function drawCompare(scope) {
    const holder = scope.querySelector("#compare-data");
    if (!holder || holder.dataset.drawn) return;
    if (!window.echarts) { withECharts(() => drawCompare(scope)); return; }
    holder.dataset.drawn = "1";
    const data = JSON.parse(holder.textContent);
    const forestEl = scope.querySelector("#forest");
    const rows = data.rows;
    // a group of explicit run ids would be a wall of hex: name it by its size instead
    const short = (c) => (c.startsWith("runs:") ? `runs: ${c.slice(5).split(",").length} runs (${c.slice(5, 13)}…)` : c);
    const cats = rows.map((r) => short(r.candidate));
    const series = [];
    rows.forEach((r, i) => {
      if (r.low === null || r.high === null) return;
      series.push({ type: "line", data: [[r.low, i], [r.high, i]], symbol: "none", lineStyle: { width: 3, color: PALETTE[0] }, silent: true });
    });
    const marks = [{ xAxis: 0, lineStyle: { color: ink, type: "solid" }, label: { formatter: "no change", color: ink } }];
    if (data.min_effect) {
      marks.push({ xAxis: data.min_effect, lineStyle: { color: PALETTE[4], type: "dashed" }, label: { formatter: "min effect", color: ink } });
    }
    if (data.margin) {
      marks.push({ xAxis: -data.margin, lineStyle: { color: PALETTE[1], type: "dotted" }, label: { formatter: "−margin", color: ink } });
      marks.push({ xAxis: data.margin, lineStyle: { color: PALETTE[1], type: "dotted" }, label: { formatter: "+margin", color: ink } });
    }
    series.push({
      type: "scatter", symbolSize: 12, itemStyle: { color: PALETTE[0] },
      data: rows.map((r, i) => [r.improvement, i, r.verdict]),
      markLine: { symbol: "none", data: marks, silent: true },
      tooltip: { formatter: (p) => `${cats[p.data[1]]}<br>improvement ${Number(p.data[0]).toPrecision(4)} (${p.data[2]})` },
    });
    forestEl.style.height = Math.max(160, 60 + rows.length * 46) + "px";
    const forest = echarts.init(forestEl, dark ? "dark" : null, { renderer: "canvas" });
    forest.setOption(Object.assign(echartsBase(), {
      tooltip: { trigger: "item" },
      xAxis: Object.assign({ type: "value", name: data.metric + " improvement", nameLocation: "middle", nameGap: 24, scale: true,
        min: (v) => Math.min(0, v.min), max: (v) => Math.max(0, v.max) }, axisStyle()),
      yAxis: Object.assign({ type: "category", data: cats, inverse: true }, axisStyle(),
        { axisLabel: { color: ink, width: 130, overflow: "truncate" } }),
      series,
    }));
    forestEl.dataset.state = "drawn";
    performance.mark("labline:compare-drawn");
    const bootEl = scope.querySelector("#bootstrap");
    const withHist = rows.filter((r) => r.histogram);
    if (!withHist.length) {
      bootEl.innerHTML = '<p class="empty">No bootstrap here: this interval comes from a t distribution.</p>';
      bootEl.dataset.state = "empty";
    } else {
      const h = withHist[0].histogram;
      const centers = h.counts.map((_, i) => (h.edges[i] + h.edges[i + 1]) / 2);
      const boot = echarts.init(bootEl, dark ? "dark" : null, { renderer: "canvas" });
      boot.setOption(Object.assign(echartsBase(), {
        grid: { left: 56, right: 16, top: 16, bottom: 44 },
        tooltip: { trigger: "axis" },
        legend: { show: false },
        xAxis: Object.assign({ type: "category", data: centers.map((c) => c.toPrecision(3)), name: short(withHist[0].candidate), nameLocation: "middle", nameGap: 28 }, axisStyle()),
        yAxis: Object.assign({ type: "value", name: "resamples" }, axisStyle()),
        series: [{
          type: "bar", barCategoryGap: "4%",
          data: h.counts.map((c, i) => ({ value: c, itemStyle: { color: centers[i] >= 0 ? alpha(PALETTE[4], 0.85) : alpha(PALETTE[2], 0.85) } })),
        }],
      }));
      bootEl.dataset.state = "drawn";
    }
    window.addEventListener("resize", () => { echarts.getInstanceByDom(forestEl)?.resize(); });
  }
  window.labline.drawCompare = drawCompare;

  /* ---- sweeps (ECharts): parallel coordinates of the trials, expected best vs budget ---- */
  function drawSweep() {
    const holder = document.getElementById("sweep-data");
    if (!holder) return;
    if (!window.echarts) { withECharts(drawSweep); return; }
    const data = JSON.parse(holder.textContent);
    const theme = dark ? "dark" : null;
    const par = document.getElementById("parallel");
    if (par && data.parallel) {
      const p = data.parallel;
      const chart = echarts.init(par, theme, { renderer: "canvas" });
      const axes = p.axes.map((a, i) => Object.assign({ dim: i, nameTextStyle: { color: ink },
        axisLabel: { color: ink }, axisLine: { lineStyle: { color: grid } } }, a));
      const option = Object.assign(echartsBase(), {
        parallel: { left: 48, right: 72, top: 36, bottom: 24 },
        parallelAxis: axes,
        series: [{ type: "parallel", lineStyle: { width: 1.2, opacity: 0.55 }, data: p.rows.map((r) => r.value) }],
      });
      if (p.range) {
        option.visualMap = { show: true, type: "continuous", dimension: axes.length - 1,
          min: p.range[0], max: p.range[1], right: 0, top: "middle", itemHeight: 160, calculable: false,
          inRange: { color: p.maximize ? ["#d0d7de", PALETTE[0], PALETTE[2]] : [PALETTE[2], PALETTE[0], "#d0d7de"] },
          textStyle: { color: ink } };
      }
      chart.setOption(option);
      par.dataset.lines = String(p.rows.length);
      par.dataset.axes = String(axes.length);
      par.dataset.state = "drawn";
    }
    const budget = document.getElementById("budget");
    if (budget && data.curves) {
      const inSeconds = data.unit === "seconds";
      const series = [];
      data.curves.forEach((c, i) => {
        const color = PALETTE[i % PALETTE.length];
        const xs = inSeconds ? c.seconds : c.budgets;
        const pts = (arr) => xs.map((x, j) => [x, arr[j]]);
        // the band as a stacked area: the low edge (invisible) then the width on top of it
        series.push({ name: c.label + " band", type: "line", data: pts(c.low), stack: "band" + i,
          symbol: "none", lineStyle: { opacity: 0 }, silent: true, tooltip: { show: false } });
        series.push({ name: c.label + " 95%", type: "line", stack: "band" + i, symbol: "none",
          data: xs.map((x, j) => [x, c.high[j] - c.low[j]]), lineStyle: { opacity: 0 },
          areaStyle: { color: alpha(color, 0.2) }, silent: true, tooltip: { show: false } });
        series.push({ name: c.label, type: "line", data: pts(c.estimate), symbol: "none", lineStyle: { width: 2, color }, itemStyle: { color } });
      });
      if (data.budget) {
        series[series.length - 1].markLine = { symbol: "none", silent: true,
          data: [{ xAxis: data.budget, lineStyle: { color: ink, type: "dashed" }, label: { formatter: "verdict", color: ink } }] };
      }
      const chart = echarts.init(budget, theme, { renderer: "canvas" });
      chart.setOption(Object.assign(echartsBase(), {
        grid: { left: 64, right: 24, top: 36, bottom: 44 },
        tooltip: { trigger: "axis" },
        legend: { data: data.curves.map((c) => c.label), textStyle: { color: ink }, top: 0, right: 8 },
        xAxis: Object.assign({ type: "value", name: inSeconds ? "budget (seconds of compute)" : "budget (trials)",
          nameLocation: "middle", nameGap: 28, min: inSeconds ? 0 : 1 }, axisStyle()),
        yAxis: Object.assign({ type: "value", name: "expected best " + data.objective, scale: true }, axisStyle()),
        series,
      }));
      budget.dataset.curves = String(data.curves.length);
      budget.dataset.state = "drawn";
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    runsTable();
    navTables();
    if (document.getElementById("runs-form")) performance.mark("labline:runs-ready");
    drawCurves();
    drawCompare(document);
    drawSweep();
    document.body.addEventListener("htmx:afterSettle", (ev) => drawCompare(ev.detail.elt || document));
    if (document.querySelector('.chart[data-kind="envelope"]')) {
      drawRunCharts();
      const log = document.getElementById("log-scale");
      if (log) log.addEventListener("change", () => {
        document.querySelectorAll('.chart[data-kind="envelope"]').forEach((el) => {
          el.innerHTML = "";
        });
        drawRunCharts();
      });
    }
    document.body.addEventListener("htmx:responseError", (ev) => {
      const x = ev.detail.xhr;
      if (x && x.responseText && ev.detail.target) {
        ev.detail.target.innerHTML = x.responseText.includes("<") && x.getResponseHeader("content-type").includes("html")
          ? x.responseText : "";
      }
      if (x && x.status >= 500) toast("The server could not answer (" + x.status + ").");
    });
  });
})();
