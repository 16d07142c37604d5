// The import wizard's mapping table: the attribute name and type only for custom attributes.
(function () {
  "use strict";
  function sync(select) {
    var extra = select.parentElement.querySelector(".custom-fields");
    if (extra) { extra.hidden = select.value !== "custom"; }
  }
  document.querySelectorAll("#mapping-table select.target").forEach(function (select) {
    sync(select);
    select.addEventListener("change", function () { sync(select); });
  });
})();
