// The system page's live throughput: /admin/system/live.json each second (poll.js), drawn
// as an SVG chart (no library). The server gives the series, the y axis (a
// round top and its ticks, console/chart.py's scale) and the x labels; this
// only places them, and puts each figure where data-live-text says.
"use strict";
(() => {
  const svg = document.querySelector("[data-live-chart]");
  if (!svg) return;
  const NS = "http://www.w3.org/2000/svg";
  const box = svg.viewBox.baseVal;
  const left = 52, right = box.width - 16, top = 10, bottom = box.height - 26;

  function el(name, attrs, text) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function draw(data) {
    const n = data.seconds;
    const x = (i) => (n <= 1 ? (left + right) / 2 : left + ((right - left) * i) / (n - 1));
    const y = (v) => bottom - ((bottom - top) * v) / data.axis.top;
    const grid = svg.querySelector("[data-chart-grid]");
    grid.replaceChildren();
    data.axis.ticks.forEach((tick, i) => {
      const at = y(tick).toFixed(1);
      grid.append(el("line", { x1: left, x2: right, y1: at, y2: at, class: i === 0 ? "axis" : "tick" }));
      grid.append(el("text", { x: left - 8, y: at, class: "y-label", "text-anchor": "end", "dominant-baseline": "middle" }, data.axis.labels[i]));
    });
    const xs = svg.querySelector("[data-chart-x]");
    xs.replaceChildren();
    for (const [i, label] of data.x_labels) {
      xs.append(el("text", { x: x(i).toFixed(1), y: bottom + 18, class: "x-label", "text-anchor": i === n - 1 ? "end" : "middle" }, label));
    }
    for (const [name, values] of Object.entries(data.series)) {
      const line = svg.querySelector(`[data-series="${name}"]`);
      if (line) line.setAttribute("points", values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" "));
    }
  }

  window.hongyanPoll(draw, { every: 1000, now: true });
})();
