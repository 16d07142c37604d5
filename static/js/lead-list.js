// The lead list's bulk bar: select all on the page, count what is ticked, show the rep
// chooser only for "reassign".
(function () {
  "use strict";
  var form = document.getElementById("bulk");
  if (!form) { return; }
  var all = document.getElementById("select-all");
  var count = document.getElementById("bulk-count");
  var action = document.getElementById("bulk-action");
  var rep = document.getElementById("bulk-to-user");
  var submit = document.getElementById("bulk-submit");
  function picks() { return Array.prototype.slice.call(document.querySelectorAll("input.pick")); }
  function update() {
    var ticked = picks().filter(function (box) { return box.checked; }).length;
    count.textContent = ticked ? count.dataset.some.replace("{count}", ticked) : count.dataset.none;
    submit.disabled = ticked === 0;
    if (all) { all.checked = ticked > 0 && ticked === picks().length; }
    if (rep) { rep.hidden = action.value !== "reassign"; }
  }
  if (all) {
    all.addEventListener("change", function () {
      picks().forEach(function (box) { box.checked = all.checked; });
      update();
    });
  }
  picks().forEach(function (box) { box.addEventListener("change", update); });
  action.addEventListener("change", update);
  update();
})();
