// hongyan console: small enhancements on server-rendered pages; every page
// works without them. No inline script (the Content-Security-Policy forbids
// it): behaviour is attached by data- attributes.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // <form data-confirm="text">: ask before submitting.
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
  // <button data-once>: disabled after the first click (no double sends).
  document.querySelectorAll("form").forEach((form) => {
    form.addEventListener("submit", () => {
      form.querySelectorAll("button[data-once]").forEach((button) => {
        window.setTimeout(() => { button.disabled = true; }, 0);
      });
    });
  });
  // <input data-autosubmit>: changing it submits its form (filters).
  document.querySelectorAll("[data-autosubmit]").forEach((input) => {
    input.addEventListener("change", () => input.form && input.form.requestSubmit());
  });
});
