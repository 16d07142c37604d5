// The draft preview's two charts, from the "distribution-data" and "backtest-data" JSON, with
// the config the server rendered as "plotly-config" (nothing that leaves the server).
(function () {
  var config = JSON.parse(document.getElementById("plotly-config").textContent);
  ["distribution", "backtest"].forEach(function (id) {
    var fig = JSON.parse(document.getElementById(id + "-data").textContent);
    Plotly.newPlot(id, fig.data, fig.layout, config);
  });
})();
