/* Charts of the consumption and CYP reports, drawn with the vendored plotly.js basic
   bundle (vendor/plotly-basic) from the JSON the page carries: the same figures as the
   table below them. Without JavaScript (or before the bundle arrives) the table is the
   report.

   <div id="charts" data-chart="ID"> names the json_script element holding
   {kind: "lines" | "stacked", x: [...], y_title: "...", series: [{name, unit?, y: [...]}]}:
   "lines" draws one small line chart per series (a product's units per month),
   "stacked" one bar chart with the series stacked (CYP per method and area). */
(function () {
  "use strict";

  var config = { displayModeBar: false, responsive: true };

  function box(parent) {
    var div = document.createElement("div");
    div.className = "chart";
    parent.appendChild(div);
    return div;
  }

  function lines(parent, data) {
    data.series.forEach(function (series) {
      window.Plotly.newPlot(
        box(parent),
        [{ x: data.x, y: series.y, type: "scatter", mode: "lines+markers", name: series.name }],
        {
          title: { text: series.name, font: { size: 14 } },
          height: 240,
          margin: { l: 50, r: 10, t: 36, b: 10 },
          xaxis: { type: "category", automargin: true, tickangle: -45 },
          yaxis: { title: { text: series.unit || data.y_title }, rangemode: "tozero" },
        },
        config
      );
    });
  }

  function stacked(parent, data) {
    var traces = data.series.map(function (series) {
      return { x: data.x, y: series.y, type: "bar", name: series.name };
    });
    window.Plotly.newPlot(
      box(parent),
      traces,
      {
        barmode: "stack",
        height: 360,
        margin: { l: 50, r: 10, t: 10, b: 10 },
        xaxis: { type: "category", automargin: true, tickangle: -45 },
        yaxis: { title: { text: data.y_title }, rangemode: "tozero" },
        legend: { orientation: "h", y: -0.3 },
      },
      config
    );
  }

  function draw() {
    var parent = document.getElementById("charts");
    if (!parent || !window.Plotly) {
      return;
    }
    var source = document.getElementById(parent.getAttribute("data-chart"));
    if (!source) {
      return;
    }
    var data = JSON.parse(source.textContent);
    if (!data.series || !data.series.length || !data.x.length) {
      return;
    }
    if (data.kind === "lines") {
      lines(parent, data);
    } else if (data.kind === "stacked") {
      stacked(parent, data);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
