// The dashboard's only script, and nothing on a page needs it to work: it adds copy buttons, "select all",
// a question before a delete, and a preview of an upload without leaving the page.
document.addEventListener("click", (event) => {
  const copy = event.target.closest("[data-copy]");
  if (copy) {
    const text = document.getElementById(copy.dataset.copy).textContent;
    navigator.clipboard.writeText(text).then(() => { copy.textContent = "Copied"; },
                                             () => { copy.textContent = "Select the text and copy it"; });
  }
  const asking = event.target.closest("[data-confirm]");
  if (asking && !window.confirm(asking.dataset.confirm)) event.preventDefault();
});
document.addEventListener("change", (event) => {
  if (event.target.id === "select-all") {
    document.querySelectorAll("input[name=ids]").forEach((box) => { box.checked = event.target.checked; });
  }
});
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-copy]").forEach((button) => { button.hidden = !navigator.clipboard; });
  const preview = document.getElementById("preview-button");
  if (!preview) return;
  preview.addEventListener("click", async (event) => {
    const form = preview.form;
    if (!form.reportValidity()) return;
    event.preventDefault();
    const data = new FormData(form);
    data.set("action", "preview");
    // form.action would be its button named "action": the form posts to the page it is on
    const answer = await fetch(window.location.pathname, { method: "POST", body: data, headers: { "X-Requested-With": "fetch" } });
    if (answer.redirected) { window.location.href = answer.url; return; }  // refused: the page says why
    document.getElementById("preview").innerHTML = await answer.text();
  });
});
