// The channels page's live figures: /admin/channels.json every 2 s, each
// figure put where the page marks it (data-live-row, data-f, data-live-text).
"use strict";
(() => {
  const source = document.querySelector("[data-live-source]");
  if (!source) return;
  const url = source.dataset.liveSource;
  const every = Number(source.dataset.liveEvery) || 2000;
  const status = source.querySelector("[data-live-status]");

  function badges(cell, list) {
    cell.replaceChildren();
    for (const b of list) {
      const span = document.createElement("span");
      span.className = `badge badge-${b.kind}`;
      span.textContent = b.text;
      cell.append(span, " ");
    }
  }

  function show(data) {
    for (const [key, cells] of Object.entries(data.rows)) {
      const row = document.querySelector(`[data-live-row="${CSS.escape(key)}"]`);
      if (!row) continue;
      for (const [name, value] of Object.entries(cells)) {
        const cell = row.querySelector(`[data-f="${name}"]`);
        if (!cell) continue;
        if (Array.isArray(value)) badges(cell, value);
        else {
          cell.textContent = value;
          if (cell.hasAttribute("title")) cell.title = value;
        }
      }
    }
    for (const [key, value] of Object.entries(data.text)) {
      const el = document.querySelector(`[data-live-text="${CSS.escape(key)}"]`);
      if (el) el.textContent = value;
    }
  }

  async function poll() {
    try {
      const answer = await fetch(url, { headers: { accept: "application/json" }, credentials: "same-origin" });
      const json = (answer.headers.get("content-type") || "").includes("json");
      if (!answer.ok || !json) throw new Error(`HTTP ${answer.status}`);
      show(await answer.json());
      source.classList.remove("live-stale");
      if (status) status.textContent = "";
    } catch (err) {
      source.classList.add("live-stale");
      if (status) status.textContent = "(not updating: reload the page)";
    }
    setTimeout(poll, every);
  }
  setTimeout(poll, every);
})();
