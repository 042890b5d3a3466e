// What the live pages share (channels.js, live.js): fetch the JSON at the
// page's data-live-source every data-live-every ms, put each figure of its
// `text` where data-live-text says, hand the answer to the page's `show`, and
// mark the figures stale (data-live-status says so) while answers fail.
"use strict";
window.hongyanPoll = (show, { every = 2000, now = false } = {}) => {
  const source = document.querySelector("[data-live-source]");
  if (!source) return;
  const url = source.dataset.liveSource;
  const period = Number(source.dataset.liveEvery) || every;
  const status = source.querySelector("[data-live-status]");

  function showText(text) {
    for (const [key, value] of Object.entries(text)) {
      const node = document.querySelector(`[data-live-text="${CSS.escape(key)}"]`);
      if (node) node.textContent = value;
    }
  }

  async function poll() {
    try {
      const answer = await fetch(url, { headers: { accept: "application/json" }, credentials: "same-origin" });
      const json = (answer.headers.get("content-type") || "").includes("json");
      if (!answer.ok || !json) throw new Error(`HTTP ${answer.status}`);
      const data = await answer.json();
      showText(data.text);
      show(data);
      source.classList.remove("live-stale");
      if (status) status.textContent = "";
    } catch (err) {
      source.classList.add("live-stale");
      if (status) status.textContent = "(not updating: reload the page)";
    }
    setTimeout(poll, period);
  }
  if (now) poll();
  else setTimeout(poll, period);
};
