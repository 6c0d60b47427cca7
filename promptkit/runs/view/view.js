"use strict";
// promptkit run viewer: hand-written, no framework. Data: gzip+base64 JSON in #data.
(async function () {
  const started = performance.now();
  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  };

  const raw = Uint8Array.from(atob($("data").textContent.trim()), (c) => c.charCodeAt(0));
  const stream = new Blob([raw]).stream().pipeThrough(new DecompressionStream("gzip"));
  const { runs, spread, chart } = await new Response(stream).json();
  const letters = runs.map((_, i) => (runs.length <= 26 ? String.fromCharCode(65 + i) : `R${i + 1}`));
  const multi = runs.length > 1;

  // Examples joined by id across runs, in the first run's order.
  const ids = [], seen = new Set();
  for (const r of runs) for (const e of r.examples) if (!seen.has(e.id)) { seen.add(e.id); ids.push(e.id); }
  const maps = runs.map((r) => new Map(r.examples.map((e) => [e.id, e])));
  const items = ids.map((id) => {
    const ex = maps.map((m) => m.get(id));
    const first = ex.find(Boolean);
    const text = [id, first.question, first.gold, ...ex.map((e) => (e ? String(e.prediction) : ""))].join(" ").toLowerCase();
    return { id, ex, first, text };
  });

  // --- summaries ---------------------------------------------------------------------------
  const pct = (x) => (100 * x).toFixed(1) + "%";
  const SVG = "http://www.w3.org/2000/svg";
  const svg = (tag, attrs = {}, text) => {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const COLORS = { "before calibration": "#8C8C8C", calibrated: "#4C72B0", accuracy: "#4C72B0" };
  if (chart && chart.length) {  // the comparison at a glance: a row per configuration, repeats as dots
    const left = 190, width = 460, rowH = 34, top = 26;
    const height = top + rowH * chart.length + 34;
    const x = (v) => left + width * v;
    const box = svg("svg", { id: "chart", width: left + width + 20, height, role: "img",
      "aria-label": "accuracy per configuration with its interval" });
    for (let t = 0; t <= 100; t += 20) {
      box.append(svg("line", { x1: x(t / 100), x2: x(t / 100), y1: top - 6, y2: height - 28, stroke: "#e3e3ea" }));
      box.append(svg("text", { x: x(t / 100), y: height - 14, "text-anchor": "middle", class: "tick" }, `${t}%`));
    }
    const names = [...new Set(chart.flatMap((r) => r.series.map((s) => s.name)))];
    names.forEach((n, k) => {
      box.append(svg("circle", { cx: left + 8 + 150 * k, cy: 10, r: 5, fill: COLORS[n] }));
      box.append(svg("text", { x: left + 18 + 150 * k, y: 14, class: "legend" }, n));
    });
    chart.forEach((row, i) => {
      const y = top + rowH * i + rowH / 2;
      const label = row.runs > 1 ? `${row.label} (${row.runs} runs)` : row.label;
      box.append(svg("text", { x: left - 8, y: y + 4, "text-anchor": "end", class: "label" }, label));
      row.series.forEach((s, k) => {
        const yy = y + (row.series.length > 1 ? (k === 0 ? -6 : 6) : 0);
        const g = svg("g", { class: "series", "data-series": s.name, "data-value": s.value.toFixed(4) });
        g.append(svg("line", { x1: x(s.low), x2: x(s.high), y1: yy, y2: yy, stroke: COLORS[s.name], "stroke-width": 2 }));
        for (const d of s.dots) g.append(svg("circle", { cx: x(d), cy: yy, r: 3, fill: COLORS[s.name], "fill-opacity": 0.5, class: "dot" }));
        g.append(svg("rect", { x: x(s.value) - 4, y: yy - 4, width: 8, height: 8, fill: COLORS[s.name],
          transform: `rotate(45 ${x(s.value)} ${yy})` }));
        g.append(svg("title", {}, `${s.name}: ${pct(s.value)} (${pct(s.low)}–${pct(s.high)})`));
        g.append(svg("text", { x: x(s.high) + 6, y: yy + 4, class: "value" }, pct(s.value)));
        box.append(g);
      });
    });
    $("runs").before(el("figure", { id: "comparison" }, box,
      el("figcaption", { class: "meta", text: "accuracy: one run with its 95% interval; repeats (seeds, orders) as dots, their mean and lowest to highest" })));
  }
  const sparkline = (curve) => {  // a learned prompt's development accuracy at each check
    const w = 160, h = 36, xs = curve.map((p) => p[0]), lo = Math.min(...xs), hi = Math.max(...xs);
    const px = (v) => (hi > lo ? (w - 4) * (v - lo) / (hi - lo) : 0) + 2, py = (a) => h - 2 - (h - 4) * a;
    const line = svg("svg", { width: w, height: h, class: "curve" });
    line.append(svg("polyline", { points: curve.map(([s, a]) => `${px(s)},${py(a)}`).join(" "), fill: "none", stroke: "#4C72B0" }));
    line.append(svg("title", {}, curve.map(([s, a]) => `${s}: ${pct(a)}`).join(", ")));
    return line;
  };
  if (spread) {  // repeats of one configuration: the figure to report is their spread, not one run's
    const dl = el("dl");
    for (const [k, v] of spread) dl.append(el("dt", { text: k }), el("dd", { text: String(v ?? "") }));
    $("runs").append(el("div", { class: "run spread", id: "spread" }, el("h2", { text: "spread over the runs" }), dl));
  }
  runs.forEach((r, i) => {
    const s = r.summary;
    const ci = s.ci95 ? `95% CI ${pct(s.ci95[0])}–${pct(s.ci95[1])}` : "";
    const facts = [
      ["method", s.method], ["model", s.model], ["engine", s.engine], ["examples", s.n],
      ["correct", s.correct], ["unparsed", s.unparsed],
      ["tokens", `${s.prompt_tokens ?? "?"} prompt, ${s.completion_tokens ?? "?"} completion`],
      ["time", s.wall_seconds != null ? `${s.wall_seconds} s` : "?"],
      ...(r.metrics || []),
      ...(r.left_out ? [["left out", r.left_out]] : []),
      ...(r.learned ? [["learned prompt", `${r.learned.method}, ${r.learned.file}, digest ${r.learned.digest}`]] : []),
    ];
    const dl = el("dl");
    for (const [k, v] of facts) dl.append(el("dt", { text: k }), el("dd", { text: String(v ?? "") }));
    const box = el("div", { class: "run", "data-run": letters[i] },
      el("h2", { text: (multi ? letters[i] + ": " : "") + r.name }),
      el("div", { class: "acc", text: pct(s.accuracy ?? 0) }), el("div", { class: "meta", text: ci }), dl);
    if (r.learned && r.learned.curve.length > 1) {
      box.append(el("div", { class: "meta", text: "its training curve (development accuracy at each check):" }), sparkline(r.learned.curve));
    }
    if (r.spec) box.append(el("details", {}, el("summary", { text: "resolved spec" }), el("pre", { text: r.spec })));
    $("runs").append(box);
  });

  // --- filters -----------------------------------------------------------------------------
  const right = (e) => e && e.state === "correct";
  // Calibrated runs keep each example's prediction before calibration: its own column, and filters.
  const calibrated = runs.map((r) => r.examples.some((e) => e.prediction_uncalibrated !== undefined));
  const changed = (e) => e && e.prediction_uncalibrated !== undefined && e.prediction_uncalibrated !== e.prediction;
  const filters = [["all", "all examples", () => true]];
  if (!multi) {
    for (const st of ["correct", "wrong", "unparsed"]) filters.push([st, st, (it) => it.ex[0].state === st]);
    if (calibrated[0]) filters.push(["changed", "changed by calibration", (it) => changed(it.ex[0])]);
  } else {
    if (calibrated.some(Boolean)) filters.push(["changed", "changed by calibration in any run", (it) => it.ex.some(changed)]);
    runs.forEach((_, i) => {
      if (calibrated[i]) filters.push([`changed-${letters[i]}`, `changed by calibration in ${letters[i]}`, (it) => changed(it.ex[i])]);
    });
    runs.forEach((_, i) => {
      filters.push([`right-${letters[i]}`, `right in ${letters[i]}`, (it) => right(it.ex[i])]);
      filters.push([`wrong-${letters[i]}`, `wrong in ${letters[i]}`, (it) => !right(it.ex[i])]);
      filters.push([`unparsed-${letters[i]}`, `unparsed in ${letters[i]}`, (it) => it.ex[i] && it.ex[i].state === "unparsed"]);
    });
    if (runs.length <= 4) runs.forEach((_, i) => runs.forEach((_, j) => {  // pairs: too many past 4 runs
      if (i !== j) filters.push([`right-${letters[i]}-wrong-${letters[j]}`, `right in ${letters[i]}, wrong in ${letters[j]}`,
        (it) => right(it.ex[i]) && !right(it.ex[j])]);
    }));
    filters.push(["disagree", "runs disagree", (it) => new Set(it.ex.map(right)).size > 1]);
    filters.push(["right-all", "right in all", (it) => it.ex.every(right)]);
    filters.push(["wrong-all", "wrong in all", (it) => !it.ex.some(right)]);
  }
  for (const [key, label] of filters) $("filter").append(el("option", { value: key, text: label }));

  const state = new URLSearchParams(location.hash.slice(1));
  $("filter").value = filters.some(([k]) => k === state.get("filter")) ? state.get("filter") : "all";
  $("search").value = state.get("q") || "";
  let openId = state.get("example");

  // --- table (only the rows on screen are in the DOM) ----------------------------------------
  const ROW = 28;
  // Per run: its prediction, and before calibration where it was calibrated.
  const predCols = runs.flatMap((_, i) => (calibrated[i] ? ["minmax(0, 1fr)", "minmax(0, 1fr)"] : ["minmax(0, 1fr)"]));
  const cols = multi ? ["6rem", "minmax(0, 3fr)", "6rem", ...predCols]
    : ["6rem", "minmax(0, 3fr)", "6rem", ...predCols, "6rem"];
  document.documentElement.style.setProperty("--cols", cols.join(" "));
  document.documentElement.style.setProperty("--runs", String(runs.length));
  const predHeads = runs.flatMap((_, i) => {  // short where runs sit side by side: each heading's title says it whole
    const [pred, before] = multi ? [letters[i], `${letters[i]} before cal.`] : ["prediction", "before calibration"];
    return calibrated[i] ? [pred, before] : [pred];
  });
  const heads = multi ? ["id", "question", "gold", ...predHeads] : ["id", "question", "gold", ...predHeads, "result"];
  for (const h of heads) {
    const full = h.replace(/^([A-Z]|R\d+)$/, "prediction $1").replace(/before cal\.$/, "before calibration");
    $("table-head").append(el("span", { text: h, title: full }));
  }

  let shown = items;
  const cell = (text, cls) => el("span", { class: cls || "", title: text, text });
  const shownText = (v) => (v === null || v === undefined ? "—" : String(v));

  function draw() {
    const box = $("table");
    const from = Math.max(0, Math.floor(box.scrollTop / ROW) - 10);
    const to = Math.min(shown.length, from + Math.ceil(box.clientHeight / ROW) + 20);
    for (const old of box.querySelectorAll(".row")) old.remove();
    for (let k = from; k < to; k++) {
      const it = shown[k];
      const row = el("div", { class: "row" + (it.id === openId ? " open" : ""), "data-id": it.id });
      row.style.top = k * ROW + "px";
      row.append(cell(it.id), cell(it.first.question ?? ""), cell(shownText(it.first.gold)));
      it.ex.forEach((e, i) => {
        row.append(cell(e ? shownText(e.prediction) : "(absent)", e ? e.state : ""));
        if (calibrated[i]) row.append(e ? uncalibratedCell(e, it.first.gold) : cell("(absent)"));
      });
      if (!multi) row.append(cell(it.ex[0].state, it.ex[0].state));
      row.addEventListener("click", () => { open(it.id); $("detail").scrollIntoView({ block: "start" }); });
      box.append(row);
    }
  }

  function uncalibratedCell(e, gold) {
    const before = e.prediction_uncalibrated;
    const cls = "uncal " + (before === null || before === undefined ? "unparsed" : String(before) === String(gold) ? "correct" : "wrong");
    const node = cell(shownText(before), cls + (changed(e) ? " changed" : ""));
    node.dataset.uncalibrated = shownText(before);
    return node;
  }

  function apply() {
    const test = filters.find(([k]) => k === $("filter").value)[2];
    const q = $("search").value.trim().toLowerCase();
    shown = items.filter((it) => test(it) && (!q || it.text.includes(q)));
    $("spacer").style.height = shown.length * ROW + "px";
    $("count").textContent = `${shown.length} of ${items.length} examples`;
    $("count").dataset.shown = String(shown.length);
    draw();
    remember();
  }

  function remember() {
    const p = new URLSearchParams();
    if ($("filter").value !== "all") p.set("filter", $("filter").value);
    if ($("search").value) p.set("q", $("search").value);
    if (openId) p.set("example", openId);
    history.replaceState(null, "", "#" + p.toString());
  }

  // --- one example, every stage ------------------------------------------------------------
  function pre(text, cls) {
    // Exact text; trailing spaces and tabs of each line are marked, since they change prompts.
    const node = el("pre", { class: cls });
    String(text).split("\n").forEach((line, k, all) => {
      const m = line.match(/[ \t]+$/);
      node.append(m ? line.slice(0, m.index) : line);
      if (m) node.append(el("span", { class: "ws", title: "trailing whitespace", text: m[0] }));
      if (k < all.length - 1) node.append("\n");
    });
    return node;
  }

  function traceOf(e, letter) {
    const col = el("div", { class: "trace-run", "data-run": letter });
    if (multi) col.append(el("h3", { text: letter }));
    if (!e) return col.append(el("p", { class: "meta", text: "not in this run" })), col;
    col.append(el("p", { class: "meta " + e.state, text: `prediction ${shownText(e.prediction)} · ${e.state}` }));
    const facts = e.facts || [];
    for (const f of facts) col.append(el("p", { class: "meta", text: f }));
    if (e.class_probs) col.append(probabilityBars(e));
    (e.trace || []).forEach((t, k) => {
      const stage = el("div", { class: "stage", "data-stage": t.stage });
      const which = t.sample != null ? ` (sample ${t.sample + 1})` : "";
      stage.append(el("h4", { text: `${k + 1}. ${t.stage}${which}` + (t.note ? ` — ${t.note}` : "") }));
      const prompt = typeof t.prompt === "string" ? t.prompt : t.prompt.map((m) => `[${m.role}]\n${m.content}`).join("\n\n");
      stage.append(el("div", { class: "meta", text: "prompt" }), pre(prompt, "prompt"));
      const outs = Array.isArray(t.completion) ? t.completion : [t.completion];
      outs.forEach((c, s) => {
        stage.append(el("div", { class: "meta", text: outs.length > 1 ? `sample ${s + 1}` : "completion" }), pre(c, "completion"));
      });
      col.append(stage);
    });
    return col;
  }

  function probabilityBars(e) {
    // Each class's probability before calibration and after, as bars (after: only where the run calibrated).
    const after = e.class_probs_calibrated;
    const table = el("div", { class: "probs" });
    table.append(el("span", { class: "meta", text: "class" }), el("span", { class: "meta", text: "before calibration" }),
      el("span", { class: "meta", text: after ? "after" : "" }));
    const bar = (p, color) => {
      const b = el("span", { class: "bar" });
      b.append(el("span", { class: "fill", style: `width:${(100 * p).toFixed(1)}%;background:${color}` }), ` ${p.toFixed(3)}`);
      return b;
    };
    for (const [label, p] of Object.entries(e.class_probs)) {
      table.append(el("span", { text: label }), bar(p, COLORS["before calibration"]),
        after && label in after ? bar(after[label], COLORS.calibrated) : el("span"));
    }
    return table;
  }

  function open(id) {
    openId = id;
    const it = items.find((x) => x.id === id);
    const box = $("detail");
    box.replaceChildren();
    if (!it) { box.hidden = true; remember(); return; }
    box.hidden = false;
    box.dataset.id = id;
    box.append(el("h2", { text: `Example ${id}` }), el("p", { text: it.first.question ?? "" }),
      el("p", { class: "meta", text: `gold: ${shownText(it.first.gold)}` }));
    const grid = el("div", { class: "trace" });
    it.ex.forEach((e, i) => grid.append(traceOf(e, letters[i])));
    box.append(grid);
    draw();
    remember();
  }

  $("filter").addEventListener("change", apply);
  $("search").addEventListener("input", apply);
  $("table").addEventListener("scroll", draw);
  window.addEventListener("resize", draw);
  apply();
  if (openId) open(openId);
  document.body.dataset.renderMs = (performance.now() - started).toFixed(0);
  document.body.dataset.ready = "1";
})();
