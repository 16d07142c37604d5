// Keeps an open queue current without a reload: polls the page's live address, swaps the
// rows when they changed (unless the person is filling in a row's form), and shows the
// count in the tab's title and the unread notices on the bell.
(function () {
  "use strict";
  var table = document.querySelector("table.queue[data-live]");
  if (!table) { return; }
  var body = table.tBodies[0];
  var words = JSON.parse(document.getElementById("queue-live-strings").textContent);
  var status = document.getElementById("queue-status");
  var fingerprint = table.dataset.fingerprint;
  var INTERVAL = 5000;

  function busy() {
    // A half-filled form (a reason chosen, a note typed) or a focused field is the
    // person's work in progress: keep it until they are done.
    var active = document.activeElement;
    if (active && body.contains(active) && active.matches("input, select, textarea")) { return true; }
    var fields = body.querySelectorAll("select, input[type=text], textarea");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value) { return true; }
    }
    return false;
  }

  function showCount(count) {
    document.title = (count ? "(" + count + ") " : "") + table.dataset.title;
  }

  function showUnread(unread) {
    var badge = document.getElementById("bell-count");
    if (!badge) { return; }
    badge.textContent = String(unread);
    badge.hidden = !unread;
    var bell = document.getElementById("bell");
    if (bell) { bell.classList.toggle("has-unread", unread > 0); }
  }

  function apply(data) {
    showCount(data.count);
    showUnread(data.unread);
    if (data.fingerprint === fingerprint || busy()) { return; }
    fingerprint = data.fingerprint;
    table.dataset.fingerprint = fingerprint;
    body.innerHTML = data.rows;
    if (status) { status.textContent = words.updated.replace("%(count)s", data.count); }
  }

  function poll() {
    fetch(table.dataset.live, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) { apply(data); } })
      .catch(function () { /* offline for a moment: the next poll tries again */ })
      .then(function () { window.setTimeout(poll, INTERVAL); });
  }

  window.setTimeout(poll, INTERVAL);
})();
