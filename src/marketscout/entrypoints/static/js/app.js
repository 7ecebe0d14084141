// MarketScout dashboard: a loading state for forms that may take a moment (uploads, checks).
// Served from our own origin, so the Content-Security-Policy needs no 'unsafe-inline'.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") {
    return;
  }
  form.setAttribute("aria-busy", "true");
  for (const progress of form.querySelectorAll("progress.busy")) {
    progress.hidden = false;
  }
  for (const button of form.querySelectorAll("button[type=submit]")) {
    button.disabled = true;
    button.dataset.label = button.textContent;
    button.textContent = "Working…";
  }
});
