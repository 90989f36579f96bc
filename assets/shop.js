// Small niceties on top of pages that work without it: a list's sort applies when it is
// chosen (the form's button does the same without this script).
document.addEventListener("change", (e) => {
  const el = e.target;
  if (el instanceof HTMLSelectElement && el.dataset.autosubmit !== undefined && el.form) {
    el.form.requestSubmit();
  }
});
for (const b of document.querySelectorAll("[data-autosubmit-hide]")) b.hidden = true;
