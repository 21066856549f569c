/* The console's only script (no inline script anywhere). Everything works without it; it adds
   a copy button and a live banner preview that follows the texts form as you type. */
(() => {
  const D = document;
  D.querySelectorAll("[data-copy]").forEach((button) => {
    if (!navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", () => {
      const text = D.getElementById(button.dataset.copy).textContent;
      navigator.clipboard.writeText(text).then(() => {
        const status = button.parentElement.querySelector(".copy-status");
        if (status) status.textContent = button.dataset.copied;
      }, () => {});
    });
  });
  const form = D.querySelector("form[data-live-preview]");
  const frame = D.querySelector("iframe[data-preview]");
  if (!form || !frame) return;
  let timer, asked = 0;
  const refresh = () => {
    const mine = ++asked;
    fetch(form.dataset.livePreview, { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then((r) => r.ok ? r.json() : null)
      .then((answer) => {
        if (answer && answer.url && mine === asked) frame.src = answer.url;
      }, () => {});
  };
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  });
})();
