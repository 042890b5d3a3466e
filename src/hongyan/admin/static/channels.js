// The channels page's live figures: /admin/channels.json every 2 s (poll.js),
// each figure put where the page marks it (data-live-row, data-f, data-live-text).
"use strict";
(() => {
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
  }

  window.hongyanPoll(show, { every: 2000 });
})();
