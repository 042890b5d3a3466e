// API access page: example tabs (without script every example is shown, one
// after the other) and copy buttons. Attached by data- attributes (CSP).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const tabs = Array.from(document.querySelectorAll("[data-example-tab]"));
  const panels = Array.from(document.querySelectorAll("[data-example]"));
  const show = (name) => {
    tabs.forEach((tab) => tab.classList.toggle("active", tab.dataset.exampleTab === name));
    panels.forEach((panel) => { panel.hidden = panel.dataset.example !== name; });
  };
  if (tabs.length) {
    tabs.forEach((tab) => tab.addEventListener("click", (event) => {
      event.preventDefault();
      show(tab.dataset.exampleTab);
    }));
    show(tabs[0].dataset.exampleTab);
  }
  document.querySelectorAll("[data-copy]").forEach((button) => {
    button.addEventListener("click", () => {
      const code = document.getElementById(button.dataset.copy);
      if (!code) return;
      const done = () => {
        const label = button.textContent;
        button.textContent = "✓";
        window.setTimeout(() => { button.textContent = label; }, 1200);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(code.textContent).then(done, () => {});
      } else {
        // Plain http: no clipboard API; select the text for Ctrl+C instead.
        const range = document.createRange();
        range.selectNodeContents(code);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
      }
    });
  });
});
