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
  const { runs, spread } = await new Response(stream).json();
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
    ];
    const dl = el("dl");
    for (const [k, v] of facts) dl.append(el("dt", { text: k }), el("dd", { text: String(v ?? "") }));
    const box = el("div", { class: "run", "data-run": letters[i] },
      el("h2", { text: (multi ? letters[i] + ": " : "") + r.name }),
      el("div", { class: "acc", text: pct(s.accuracy ?? 0) }), el("div", { class: "meta", text: ci }), dl);
    if (r.spec) box.append(el("details", {}, el("summary", { text: "resolved spec" }), el("pre", { text: r.spec })));
    $("runs").append(box);
  });

  // --- filters -----------------------------------------------------------------------------
  const right = (e) => e && e.state === "correct";
  const filters = [["all", "all examples", () => true]];
  if (!multi) {
    for (const st of ["correct", "wrong", "unparsed"]) filters.push([st, st, (it) => it.ex[0].state === st]);
  } else {
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
  const cols = multi ? ["6rem", "minmax(0, 3fr)", "6rem", ...runs.map(() => "minmax(0, 1fr)")]
    : ["6rem", "minmax(0, 3fr)", "6rem", "minmax(0, 1fr)", "6rem"];
  document.documentElement.style.setProperty("--cols", cols.join(" "));
  document.documentElement.style.setProperty("--runs", String(runs.length));
  const heads = multi ? ["id", "question", "gold", ...letters.map((l) => `prediction ${l}`)] : ["id", "question", "gold", "prediction", "result"];
  for (const h of heads) $("table-head").append(el("span", { text: h }));

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
      if (multi) it.ex.forEach((e) => row.append(cell(e ? shownText(e.prediction) : "(absent)", e ? e.state : "")));
      else row.append(cell(shownText(it.ex[0].prediction), it.ex[0].state), cell(it.ex[0].state, it.ex[0].state));
      row.addEventListener("click", () => { open(it.id); $("detail").scrollIntoView({ block: "start" }); });
      box.append(row);
    }
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
