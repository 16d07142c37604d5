// The rule editor's "matches now" column: counted by the database after the page shows.
(() => {
  const anchor = document.getElementById("rule-counts");
  const wordsNode = document.getElementById("count-words");
  if (!anchor || !wordsNode) return;
  const words = JSON.parse(wordsNode.textContent);
  const format = (n, one, many) => (n === 1 ? one : many).replace("%(n)s", n.toLocaleString());
  const cells = document.querySelectorAll("td.matches[data-rule]");
  fetch(anchor.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then((response) => {
      if (!response.ok) throw new Error(String(response.status));
      return response.json();
    })
    .then((data) => {
      cells.forEach((cell) => {
        const counts = data.rules[cell.dataset.rule] || { leads: 0, activities: 0 };
        cell.replaceChildren(document.createTextNode(
          format(counts.leads || 0, words.leads_one, words.leads_many)));
        if (cell.dataset.activity) {
          const small = document.createElement("span");
          small.className = "muted small";
          small.textContent = format(counts.activities || 0, words.activities_one, words.activities_many);
          cell.append(document.createElement("br"), small);
        }
        cell.classList.add("counted");
      });
      anchor.dataset.state = "done";
    })
    .catch(() => {
      cells.forEach((cell) => { cell.textContent = "—"; cell.title = words.failed; });
      anchor.dataset.state = "failed";
    });
})();
