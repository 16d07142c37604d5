// Polls an import's status into #import-status; reloads the page when it is finished.
(function () {
  const box = document.getElementById("import-status");
  if (box.dataset.finished === "1") return;
  async function poll() {
    try {
      const response = await fetch(box.dataset.statusUrl, {headers: {"Accept": "application/json"}});
      if (response.ok) {
        const data = await response.json();
        if (data.finished) { window.location.reload(); return; }
        for (const el of box.querySelectorAll("[data-field]")) {
          const value = data[el.dataset.field];
          el.textContent = value === null ? "?" : value;
        }
        box.querySelector(".progress > div").style.width = data.percent + "%";
        box.querySelector(".progress").setAttribute("aria-valuenow", data.percent);
      }
    } catch (e) { /* the next poll tries again */ }
    window.setTimeout(poll, 1000);
  }
  window.setTimeout(poll, 1000);
})();
