// hongyan console, send page: a live count of characters, parts and cost
// while the customer types. Only a guide: the server counts again on the
// preview, and that count is what is charged (core/content.py parts_of).
"use strict";

(() => {
  // core/content.py: one part up to 70 UTF-16 units, else 67 a part.
  const SINGLE_PART_UNITS = 70;
  const MULTI_PART_UNITS = 67;

  // A JS string's length is in UTF-16 code units: as carriers count.
  function partsOf(text) {
    const units = text.length;
    if (units <= SINGLE_PART_UNITS) return 1;
    return Math.ceil(units / MULTI_PART_UNITS);
  }

  // console/uploads.py split_pasted: the same separators.
  function countNumbers(text) {
    return text.split(/[\s,，;；、]+/).filter((entry) => entry !== "").length;
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.querySelector("[data-send-form]");
    if (!form) return;
    const numbers = form.querySelector("[data-numbers]");
    const content = form.querySelector("[data-content]");
    const file = form.querySelector("[data-file]");
    const out = (name) => form.querySelector(`[data-count-${name}]`);
    const counter = form.querySelector("[data-counter]");
    const locale = document.documentElement.lang || "zh-CN";
    const fmt = (n) => n.toLocaleString(locale);
    const zh = locale.startsWith("zh");

    function update() {
      const text = content.value;
      const units = text.length;
      const parts = text.trim() === "" ? 0 : partsOf(text);
      const count = countNumbers(numbers.value);
      const withFile = file && file.files && file.files.length > 0;
      out("numbers").textContent = fmt(count) + (withFile ? (zh ? " + 文件" : " + file") : "");
      out("chars").textContent = fmt(units);
      out("parts").textContent = fmt(parts);
      out("cost").textContent = withFile ? "–" : fmt(parts * count) + (zh ? " 条" : " parts");
      counter.textContent = zh
        ? `已输入 ${fmt(units)} 字，计 ${fmt(parts)} 条（70 字以内 1 条，超过按 67 字一条计费）`
        : `${fmt(units)} characters, ${fmt(parts)} part(s) (one part up to 70; longer texts 67 a part)`;
    }

    numbers.addEventListener("input", update);
    content.addEventListener("input", update);
    if (file) file.addEventListener("change", update);
    update();
  });
})();
