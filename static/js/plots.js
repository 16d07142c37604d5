// Draws every figure of the "figures-data" JSON into the element with its id, with the config
// the server rendered as "plotly-config" (no control that sends a chart off the server).
(function () {
  var figures = JSON.parse(document.getElementById("figures-data").textContent);
  var config = JSON.parse(document.getElementById("plotly-config").textContent);
  Object.keys(figures).forEach(function (id) {
    var element = document.getElementById(id);
    if (!element) { return; }
    Plotly.newPlot(element, figures[id].data, figures[id].layout, Object.assign({}, config, {
      // The camera button saves the chart as a PNG named after it.
      toImageButtonOptions: {format: "png", filename: "handoff-" + id, scale: 2}
    }));
  });
  // Printing reflows the page: let the charts take the paper's width.
  window.addEventListener("beforeprint", function () {
    Object.keys(figures).forEach(function (id) {
      var element = document.getElementById(id);
      if (element) { Plotly.Plots.resize(element); }
    });
  });
})();
// A button that prints the page (no inline handlers: the Content-Security-Policy forbids them).
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});
