// Small niceties on top of pages that work without it: a list's sort applies when it is
// chosen (the form's button does the same without this script).
document.addEventListener("change", (e) => {
  const el = e.target;
  if (el instanceof HTMLSelectElement && el.dataset.autosubmit !== undefined && el.form) {
    el.form.requestSubmit();
  }
});
for (const b of document.querySelectorAll("[data-autosubmit-hide]")) b.hidden = true;

// Search as you type: the header's search box offers completions of its last word
// (GET /api/search/suggest) in its list of suggestions, a moment after typing stops.
const box = document.querySelector("input[data-suggest]");
const offered = box && document.getElementById(box.getAttribute("list"));
if (box && offered) {
  let timer = 0;
  let asked = "";
  box.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const q = box.value;
      if (q.trim().length < 2 || q === asked) return;
      asked = q;
      try {
        const r = await fetch(`/api/search/suggest?q=${encodeURIComponent(q)}&limit=8`, {
          headers: { accept: "application/json" },
        });
        if (!r.ok || box.value !== q) return;
        const { data } = await r.json();
        offered.replaceChildren(
          ...data.map((s) => {
            const o = document.createElement("option");
            o.value = s.text;
            o.label = `${s.matches} ${s.matches === 1 ? "product" : "products"}`;
            return o;
          }),
        );
      } catch {
        // offline or refused: the box works without suggestions
      }
    }, 150);
  });
}

// A field shown once (a payment link): its Copy button copies the whole value, which a
// narrow screen cannot show; without the clipboard the text is left selected to copy.
for (const b of document.querySelectorAll("button[data-copy]")) {
  const field = document.getElementById(b.dataset.copy);
  const said = document.getElementById(b.getAttribute("aria-describedby"));
  if (!field) continue;
  b.hidden = false;
  b.addEventListener("click", async () => {
    field.focus();
    field.select();
    let done = false;
    try {
      await navigator.clipboard.writeText(field.value);
      done = true;
    } catch {
      done = document.execCommand("copy");
    }
    if (said) said.textContent = done ? "Copied." : "Selected: copy it with your keyboard.";
  });
}
