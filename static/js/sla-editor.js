// The SLA editor: search the time zones; offer the regions of the chosen holiday country.
(() => {
  const zone = document.getElementById("id_time_zone");
  const search = document.getElementById("tz-search");
  if (zone && search) {
    search.closest("label").hidden = false;
    search.addEventListener("input", () => {
      const words = search.value.trim().toLowerCase().replace(/\s+/g, "_");
      let first = null;
      for (const option of zone.querySelectorAll("option")) {
        const match = !words || option.value.toLowerCase().includes(words);
        option.hidden = !match;
        if (match && !first) first = option;
      }
      if (words && first && zone.selectedOptions[0] && zone.selectedOptions[0].hidden) {
        zone.value = first.value;
      }
    });
  }
  const country = document.getElementById("id_holiday_country");
  const region = document.getElementById("id_holiday_subdivision");
  const data = document.getElementById("holiday-regions");
  const list = document.getElementById("regions");
  if (country && region && data && list) {
    const regions = JSON.parse(data.textContent);
    region.setAttribute("list", "regions");
    const fill = () => {
      list.replaceChildren(...(regions[country.value] || []).map((code) => {
        const option = document.createElement("option");
        option.value = code;
        return option;
      }));
      region.disabled = !country.value;
    };
    country.addEventListener("change", () => { region.value = ""; fill(); });
    fill();
  }
})();
