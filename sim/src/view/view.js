// rosey-sim view: lays out the run the simulator paired (see view/mod.rs).
// Time runs down; a lane per host; quiet stretches collapse into a band.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("data").textContent);
  const NS = "http://www.w3.org/2000/svg"; // the SVG namespace's name: never fetched
  const LANE_W = 190, LEFT = 90, TOP = 24, QUIET_MS = 3000, BAND = 22;
  let pxPerSecond = 40;

  function el(name, attrs, parent, text) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  // y for every distinct time, with quiet stretches collapsed.
  // How many records share an instant on one host: each gets its own row.
  const crowd = new Map();
  for (const r of data.rows) {
    const key = r.t + "|" + r.host;
    crowd.set(key, (crowd.get(key) || 0) + 1);
  }
  const perTime = new Map();
  for (const [key, n] of crowd) {
    const t = Number(key.split("|")[0]);
    perTime.set(t, Math.max(perTime.get(t) || 0, n));
  }
  const ROW = 12;

  function layout(collapse) {
    const times = Array.from(new Set(data.rows.map((r) => r.t).concat(data.faults.flatMap((f) => [f.from_ms, f.until_ms])))).sort((a, b) => a - b);
    const y = new Map();
    const bands = [];
    let at = TOP, prev = null;
    for (const t of times) {
      if (prev !== null) {
        const gap = t - prev;
        if (collapse && gap > QUIET_MS) {
          bands.push({ y: at, ms: gap });
          at += BAND;
        } else {
          at += Math.max(gap / 1000 * pxPerSecond, 0);
        }
      }
      // Records at one instant still get a row each.
      y.set(t, at);
      at += ROW * (perTime.get(t) || 1) + 2;
      prev = t;
    }
    return { y, bands, height: at + 40 };
  }

  function laneX(host) {
    const i = data.lanes.indexOf(host);
    return LEFT + (i < 0 ? data.lanes.length : i) * LANE_W + LANE_W / 2;
  }

  function render() {
    const collapse = document.getElementById("collapse").checked;
    const { y, bands, height } = layout(collapse);
    const rowY = [];
    const seenAt = new Map();
    data.rows.forEach((r, i) => {
      const key = r.t + "|" + r.host;
      const n = seenAt.get(key) || 0;
      seenAt.set(key, n + 1);
      rowY[i] = y.get(r.t) + n * ROW;
    });
    const width = LEFT + data.lanes.length * LANE_W + 20;
    const diagram = document.getElementById("diagram");
    diagram.replaceChildren();
    const svg = el("svg", { width, height, id: "sequence" }, diagram);
    el("defs", {}, svg).innerHTML =
      '<marker id="head" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L8,4 L0,8 z"/></marker>';

    // Fault windows, shaded across the lanes they cut.
    data.faults.forEach((f, i) => {
      const xs = f.lanes.map(laneX);
      const x0 = Math.min(...xs) - LANE_W / 2 + 6, x1 = Math.max(...xs) + LANE_W / 2 - 6;
      const y0 = y.get(f.from_ms), y1 = y.get(f.until_ms);
      const g = el("g", { class: "fault" + (f.took_effect === false ? " no-effect" : ""), "data-fault": i }, svg);
      el("rect", { x: x0, y: y0, width: x1 - x0, height: Math.max(y1 - y0, 4) }, g);
      el("title", {}, g, f.label + (f.took_effect === false ? " (took no effect)" : ""));
      el("text", { x: x0 + 4, y: y0 + 12, class: "fault-label" }, g, f.label.slice(0, 60));
    });

    // Collapsed stretches.
    for (const band of bands) {
      const g = el("g", { class: "quiet" }, svg);
      el("rect", { x: 0, y: band.y, width, height: BAND - 4 }, g);
      el("text", { x: 6, y: band.y + 13 }, g, "… " + (band.ms / 1000).toFixed(1) + " s quiet …");
    }

    // Lanes.
    data.lanes.forEach((host) => {
      const x = laneX(host);
      const g = el("g", { class: "lane", "data-host": host }, svg);
      el("line", { x1: x, y1: TOP - 8, x2: x, y2: height - 20 }, g);
      el("text", { x, y: 14, class: "lane-name" }, g, host);
    });

    // Arrows: commands, requests, replies, drops and timeouts.
    for (const a of data.arrows) {
      const from = data.rows[a.from], to = data.rows[a.to];
      const x1 = laneX(from.host), y1 = rowY[a.from];
      let x2 = laneX(to.host), y2 = rowY[a.to];
      if (a.kind === "dropped") x2 = laneX("bus");
      if (x1 === x2) x2 += 30;
      el("line", { x1, y1, x2, y2, class: "arrow " + a.kind, "marker-end": "url(#head)" }, svg);
      if (a.kind === "dropped") el("text", { x: x2 - 5, y: y2 + 5, class: "cross" }, svg, "✕");
    }

    // Records: a dot with its label; evidence highlighted.
    const evidence = new Set(data.failures.flatMap((f) => f.rows));
    data.rows.forEach((r, i) => {
      const x = laneX(r.host), yy = rowY[i];
      const g = el("g", { class: "rec " + r.kind + (evidence.has(i) ? " evidence" : ""), id: "row-" + i }, svg);
      el("circle", { cx: x, cy: yy, r: evidence.has(i) ? 5 : 2.5 }, g);
      if (r.kind !== "send" && r.kind !== "apply") {
        el("text", { x: x + 6, y: yy + 4 }, g, r.label.slice(0, 48));
      }
      el("title", {}, g, r.line);
    });
    document.getElementById("scale").textContent = pxPerSecond.toFixed(1) + " px per second";
  }

  function summary() {
    const box = document.getElementById("summary");
    const head = document.createElement("p");
    head.textContent = data.rows.length + " records, " + data.arrows.length + " arrows, " + data.faults.length + " faults on " + data.lanes.length + " lanes";
    box.appendChild(head);
    for (const f of data.failures) {
      const p = document.createElement("p");
      p.className = "violation";
      p.dataset.invariant = f.name;
      const b = document.createElement("b");
      b.textContent = "FAIL " + f.name + ": ";
      p.append(b, f.detail + " ");
      f.rows.forEach((row, n) => {
        const a = document.createElement("a");
        a.href = "#row-" + row;
        a.textContent = "[evidence " + (n + 1) + " at " + data.rows[row].t + " ms]";
        a.addEventListener("click", (e) => {
          e.preventDefault();
          document.getElementById("row-" + row).scrollIntoView({ block: "center" });
        });
        p.append(a, " ");
      });
      box.appendChild(p);
    }
    if (data.passed.length) {
      const p = document.createElement("p");
      p.className = "holds";
      p.textContent = "hold: " + data.passed.join(", ");
      box.appendChild(p);
    }
  }

  document.getElementById("goto").addEventListener("change", (e) => {
    const ms = Number(e.target.value) * 1000;
    const index = data.rows.findIndex((r) => r.t >= ms);
    if (index >= 0) document.getElementById("row-" + index).scrollIntoView({ block: "start" });
  });
  document.getElementById("zoom-in").addEventListener("click", () => { pxPerSecond *= 2; render(); });
  document.getElementById("zoom-out").addEventListener("click", () => { pxPerSecond /= 2; render(); });
  document.getElementById("collapse").addEventListener("change", render);
  summary();
  render();
})();
