// The rule editor: show the inputs the rule's kind, field and operator use; tags for lists.
// Works without it too: every input is then visible and the server reads only the right ones.
(() => {
  const form = document.getElementById("ruleform");
  if (!form) return;
  const kind = form.querySelector("[name=kind]");
  const field = form.querySelector("[data-field-picker]");
  const operator = form.querySelector("[data-operator]");

  // Which operators suit which type of field (scoring.engine's checks say the same).
  const TEXT = ["equals", "not_equals", "in", "contains", "starts_with", "ends_with"];
  const NUMBER = ["gt", "gte", "lt", "lte", "between"];
  const EMPTY = ["is_empty", "not_empty"];
  const OPS = {
    text: [...TEXT, ...EMPTY],
    email: [...TEXT, ...EMPTY, "email_domain_in", "free_mail"],
    number: [...NUMBER, ...EMPTY],
    bool: ["equals", "not_equals", ...EMPTY],
    any: [...TEXT, ...NUMBER, ...EMPTY],
  };
  const VALUE_INPUT = {
    in: "tags", email_domain_in: "tags", between: "range",
    gt: "number", gte: "number", lt: "number", lte: "number",
    equals: "text", not_equals: "text", contains: "text", starts_with: "text", ends_with: "text",
  };

  const show = (el, on) => { el.hidden = !on; };

  function fieldType() {
    const option = field.selectedOptions[0];
    return option && option.dataset.type ? option.dataset.type : "";
  }

  function syncKind() {
    const k = kind.value;
    form.querySelectorAll("[data-kinds]").forEach((el) => {
      show(el, el.dataset.kinds.split(" ").includes(k));
    });
  }

  function syncOperators() {
    const type = fieldType();
    const allowed = type ? OPS[type] : null;
    for (const option of operator.options) {
      if (!option.value) continue;
      const ok = !allowed || allowed.includes(option.value);
      option.hidden = !ok;
      option.disabled = !ok;
    }
    if (operator.selectedOptions[0] && operator.selectedOptions[0].disabled) operator.value = "";
    syncValue();
  }

  function syncValue() {
    let input = VALUE_INPUT[operator.value] || "";
    if (input === "text" && fieldType() === "bool") input = "flag";
    form.querySelectorAll("[data-value]").forEach((el) => show(el, el.dataset.value === input));
  }

  // Property conditions: one row at a time, each value hidden for "is (not) empty".
  const rows = [...form.querySelectorAll("[data-condition]")];
  const addButton = form.querySelector("[data-add-condition]");
  function syncConditions() {
    rows.forEach((row) => {
      const op = row.querySelector("select").value;
      show(row.querySelector("[data-cond-value]"), !EMPTY.includes(op));
    });
  }
  function firstEmptyShown() {
    let shownEmpty = false;
    rows.forEach((row, i) => {
      const filled = row.querySelector("input").value.trim() !== "" ||
        row.querySelector("[data-cond-value] input").value.trim() !== "";
      if (filled || (!shownEmpty && i === 0)) { show(row, true); if (!filled) shownEmpty = true; return; }
      show(row, false);
    });
    addButton.hidden = rows.every((row) => !row.hidden);
  }
  addButton.addEventListener("click", () => {
    const next = rows.find((row) => row.hidden);
    if (next) { show(next, true); next.querySelector("input").focus(); }
    addButton.hidden = rows.every((row) => !row.hidden);
  });
  rows.forEach((row) => row.querySelector("select").addEventListener("change", syncConditions));

  // Tags: the textarea keeps one value per line; chips show them, an input adds more.
  form.querySelectorAll("textarea[data-tags]").forEach((area) => {
    const box = document.createElement("div");
    box.className = "tagbox";
    const entry = document.createElement("input");
    entry.type = "text";
    entry.className = "tagentry";
    entry.setAttribute("aria-label", area.dataset.addLabel || "");
    entry.placeholder = area.dataset.addLabel || "";
    area.hidden = true;
    area.after(box);
    const values = () => area.value.split(/[\n,、]/).map((v) => v.trim()).filter(Boolean);
    function render() {
      box.querySelectorAll(".chip").forEach((chip) => chip.remove());
      values().forEach((value, i) => {
        const chip = document.createElement("span");
        chip.className = "chip";
        chip.textContent = value + " ";
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "link";
        remove.textContent = "×";
        remove.setAttribute("aria-label", `${area.dataset.removeLabel || ""} ${value}`);
        remove.addEventListener("click", () => {
          const rest = values(); rest.splice(i, 1); area.value = rest.join("\n"); render();
        });
        chip.append(remove);
        box.insertBefore(chip, entry);
      });
    }
    function commit() {
      const added = entry.value.split(/[,、]/).map((v) => v.trim()).filter(Boolean);
      if (!added.length) return;
      area.value = [...values(), ...added.filter((v) => !values().includes(v))].join("\n");
      entry.value = "";
      render();
    }
    entry.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === ",") { event.preventDefault(); commit(); }
      if (event.key === "Backspace" && !entry.value && values().length) {
        area.value = values().slice(0, -1).join("\n"); render();
      }
    });
    entry.addEventListener("blur", commit);
    form.addEventListener("submit", commit);
    box.append(entry);
    render();
  });

  kind.addEventListener("change", syncKind);
  field.addEventListener("change", syncOperators);
  operator.addEventListener("change", syncValue);
  syncKind();
  syncOperators();
  syncConditions();
  firstEmptyShown();
})();
