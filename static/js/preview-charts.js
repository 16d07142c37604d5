// The draft preview's two charts, from the "distribution-data" and "backtest-data" JSON.
["distribution", "backtest"].forEach(function (id) {
  var fig = JSON.parse(document.getElementById(id + "-data").textContent);
  Plotly.newPlot(id, fig.data, fig.layout, {displaylogo: false, responsive: true});
});
