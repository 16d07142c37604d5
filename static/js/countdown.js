// Live countdowns to each deadline ([data-deadline]); words from the "countdown-strings" JSON.
(function () {
  "use strict";
  var words = JSON.parse(document.getElementById("countdown-strings").textContent);
  function fill(template, key, value) { return template.replace("%(" + key + ")s", value); }
  function span(ms) {
    var s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400); s -= d * 86400;
    var h = Math.floor(s / 3600); s -= h * 3600;
    var m = Math.floor(s / 60); s -= m * 60;
    var parts = [];
    if (d) { parts.push(fill(words.d, "n", d)); }
    if (d || h) { parts.push(fill(words.h, "n", h)); }
    parts.push(fill(words.m, "n", m));
    parts.push(fill(words.s, "n", String(s).padStart(2, "0")));
    return parts.join(" ");
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      var ms = Date.parse(el.dataset.due) - now;
      if (isNaN(ms)) { return; }
      var overdue = ms < 0;
      el.textContent = fill(overdue ? words.overdue : words.left, "time", span(ms));
      el.classList.toggle("overdue", overdue);
      el.classList.toggle("soon", !overdue && ms < 30 * 60 * 1000);
    });
  }
  tick();
  window.setInterval(tick, 1000);
})();
