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
  // A disabled button's name=value is left out of the form's data: the clicked one (such as
  // "Create anyway", name=create_anyway) travels in a hidden copy, made anew on each submit.
  for (const copy of form.querySelectorAll("input[data-submitter]")) {
    copy.remove();
  }
  const submitter = event.submitter;
  if (submitter && submitter.name && submitter.form === form) {
    const copy = document.createElement("input");
    copy.type = "hidden";
    copy.name = submitter.name;
    copy.value = submitter.value;
    copy.dataset.submitter = "";
    form.append(copy);
  }
  for (const button of form.querySelectorAll("button[type=submit]")) {
    button.disabled = true;
    button.dataset.label = button.textContent;
    button.textContent = "Working…";
  }
});

// The alert-rule form: a field only some kinds read (data-kinds) is shown for those kinds only,
// and left out of the form while hidden. Without this script every field shows, labelled with
// the kinds it is for, and the server ignores the ones the chosen kind does not read.
for (const kind of document.querySelectorAll("select[data-rule-kind]")) {
  const fields = kind.form ? kind.form.querySelectorAll("[data-kinds]") : [];
  const show = () => {
    for (const field of fields) {
      const used = field.dataset.kinds.split(" ").includes(kind.value);
      field.hidden = !used;
      for (const input of field.querySelectorAll("input, select, textarea")) {
        input.disabled = !used;
      }
    }
  };
  kind.addEventListener("change", show);
  show();
}
