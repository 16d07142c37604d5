// Polls a rescore run's progress into each .runprogress box until it is done.
(function () {
  document.querySelectorAll(".runprogress").forEach(function (box) {
    function poll() {
      if (box.dataset.status === "done" || box.dataset.status === "failed") return;
      fetch(box.dataset.url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (p) {
        box.dataset.status = p.status;
        box.querySelector(".progress > div").style.width = p.percent + "%";
        box.querySelector(".run-done").textContent = p.done;
        box.querySelector(".run-total").textContent = p.total;
        box.querySelector(".run-percent").textContent = Math.round(p.percent);
        box.querySelector(".run-left").textContent = p.seconds_left === null ? "—" : Math.round(p.seconds_left) + " s";
        box.querySelector(".run-mqls").textContent = p.new_mqls;
        box.querySelector(".run-status").textContent = p.status_label || p.status;
        setTimeout(poll, 1000);
      }).catch(function () { setTimeout(poll, 3000); });
    }
    poll();
  });
})();
