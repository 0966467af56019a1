/* The distribution map: draws the payload that reports/views_map.py embeds in the page
 * (#map-data) with plotly's geo bundle. Every text comes translated in the payload.
 *
 * Offline by construction: the boundaries are the project's own static files (hashed,
 * cached), and plotly's world topojson, which its geo subplot otherwise fetches from a
 * CDN, is registered empty (the map draws no base layer: land, coastlines, countries).
 */
(function () {
  "use strict";

  var NO_DATA = "#e9ecef";
  var LINE = { shipped: "#37474f", transit: "#d9480f" };

  function failed(el, data) {
    el.dataset.state = "failed";
    var note = document.querySelector(".map-failed");
    if (note) note.hidden = false;
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) throw new Error(url + ": " + response.status);
      return response.json();
    });
  }

  function unitTraces(data, geojson) {
    var withValue = data.units.filter(function (u) { return u.feature && u.value !== null; });
    var without = data.units.filter(function (u) { return u.feature && u.value === null; });
    var common = {
      type: "choropleth",
      geojson: geojson,
      featureidkey: "id",
      hoverinfo: "text",
      marker: { line: { color: "#ffffff", width: 0.8 } },
    };
    var traces = [];
    if (without.length) {
      traces.push(Object.assign({}, common, {
        name: data.labels.no_data,
        locations: without.map(function (u) { return u.feature; }),
        z: without.map(function () { return 0; }),
        text: without.map(function (u) { return u.hover; }),
        customdata: without.map(function (u) { return u.url; }),
        colorscale: [[0, NO_DATA], [1, NO_DATA]],
        showscale: false,
      }));
    }
    if (withValue.length) {
      var scale = data.scale;
      var colorbar = {
        orientation: "h", thickness: 10, len: 0.9, x: 0.5, xanchor: "center", y: 0, yanchor: "top",
        title: { text: scale.title, side: "right" },
      };
      if (scale.tickvals) {
        colorbar.tickvals = scale.tickvals;
        colorbar.ticktext = scale.ticktext;
      }
      traces.push(Object.assign({}, common, {
        name: data.indicator.label,
        locations: withValue.map(function (u) { return u.feature; }),
        z: withValue.map(function (u) { return u.value; }),
        text: withValue.map(function (u) { return u.hover; }),
        customdata: withValue.map(function (u) { return u.url; }),
        colorscale: scale.colorscale,
        zmin: scale.zmin,
        zmax: scale.zmax,
        colorbar: colorbar,
      }));
    }
    return traces;
  }

  function flowTraces(data) {
    var drawn = data.flows.filter(function (f) { return f.start && f.end; });
    if (!drawn.length) return [];
    var most = Math.max.apply(null, drawn.map(function (f) { return f.quantity; })) || 1;
    var groups = {};
    drawn.forEach(function (f) {
      // Four widths, by the square root of the quantity: lines stay readable side by side.
      var width = 1.5 + 1.5 * Math.round(3 * Math.sqrt(f.quantity / most));
      var kind = f.in_transit > 0 ? "transit" : "shipped";
      var key = kind + width;
      var g = groups[key] || (groups[key] = { kind: kind, width: width, lon: [], lat: [] });
      g.lon.push(f.start[0], f.end[0], null);
      g.lat.push(f.start[1], f.end[1], null);
    });
    var shown = {};
    var traces = Object.keys(groups).sort().map(function (key) {
      var g = groups[key];
      var first = !shown[g.kind];
      shown[g.kind] = true;
      return {
        type: "scattergeo", mode: "lines", lon: g.lon, lat: g.lat, hoverinfo: "skip",
        name: g.kind === "transit" ? data.labels.in_transit : data.labels.shipped,
        legendgroup: g.kind, showlegend: first,
        line: { width: g.width, color: LINE[g.kind], dash: g.kind === "transit" ? "dot" : "solid" },
        opacity: 0.75,
      };
    });
    // Hover on a route: a small mark two thirds of the way, towards the destination.
    traces.push({
      type: "scattergeo", mode: "markers", showlegend: false, hoverinfo: "text",
      lon: drawn.map(function (f) { return f.start[0] + (f.end[0] - f.start[0]) * 2 / 3; }),
      lat: drawn.map(function (f) { return f.start[1] + (f.end[1] - f.start[1]) * 2 / 3; }),
      text: drawn.map(function (f) { return f.hover; }),
      marker: {
        size: 7, symbol: "diamond",
        color: drawn.map(function (f) { return f.in_transit > 0 ? LINE.transit : LINE.shipped; }),
      },
    });
    return traces;
  }

  function escapeHTML(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  // A clinic's hover: the payload's translated template, filled with its figures written
  // as the page's language writes numbers and dates.
  function clinicHover(data) {
    var lang = document.documentElement.lang || "id";
    var whole = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 });
    var tenth = new Intl.NumberFormat(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
    var day = new Intl.DateTimeFormat(lang, { day: "2-digit", month: "2-digit", year: "numeric", timeZone: "UTC" });
    var labels = {};
    data.statuses.forEach(function (s) { labels[s.key] = s.label; });
    return function (c) {
      var values = {
        name: escapeHTML(c.name), code: escapeHTML(c.code), status: escapeHTML(labels[c.status]),
        soh: whole.format(c.soh),
        amc: c.amc === null ? "–" : tenth.format(c.amc),
        mos: c.mos === null ? "–" : tenth.format(c.mos),
        last_receipt: c.last_receipt ? day.format(new Date(c.last_receipt + "T00:00:00Z")) : "–",
      };
      return data.labels.clinic_hover.replace(/%\((\w+)\)s/g, function (_, key) { return values[key]; });
    };
  }

  function markerTraces(data) {
    var hover = clinicHover(data);
    return data.statuses.map(function (status) {
      var clinics = data.clinics.filter(function (c) { return c.status === status.key && c.lon !== null; });
      return {
        type: "scattergeo", mode: "markers", name: status.label, hoverinfo: "text",
        lon: clinics.map(function (c) { return c.lon; }),
        lat: clinics.map(function (c) { return c.lat; }),
        text: clinics.map(hover),
        customdata: clinics.map(function (c) { return data.labels.clinic_url.replace("__code__", c.code); }),
        marker: { size: 9, color: status.color, line: { color: "#ffffff", width: 1 } },
      };
    }).filter(function (t) { return t.lon.length; });
  }

  function geoLayout(data) {
    var geo = {
      visible: false, projection: { type: "mercator" }, bgcolor: "#e6f0f5", fitbounds: "locations",
    };
    var placed = data.clinics.filter(function (c) { return c.lon !== null; });
    if (!data.units.some(function (u) { return u.feature; }) && placed.length) {
      // A clinic alone: no shape to fit, a window of about 60 km around it.
      geo.fitbounds = false;
      geo.lonaxis = { range: [placed[0].lon - 0.3, placed[0].lon + 0.3] };
      geo.lataxis = { range: [placed[0].lat - 0.3, placed[0].lat + 0.3] };
    }
    return geo;
  }

  function draw(el, data, geojson) {
    var traces = unitTraces(data, geojson).concat(flowTraces(data), markerTraces(data));
    var narrow = el.clientWidth < 600;
    var layout = {
      geo: geoLayout(data),
      margin: { l: 0, r: 0, t: 0, b: 0 },
      paper_bgcolor: "#e6f0f5",
      separators: data.labels.separators,
      dragmode: narrow ? false : "pan",
      showlegend: traces.some(function (t) { return t.type === "scattergeo" && t.showlegend !== false; }),
      // Above the map (plotly makes room for it), not over the shapes.
      legend: { orientation: "h", x: 0, y: 1, yanchor: "bottom", bgcolor: "rgba(255,255,255,0.8)", font: { size: 11 } },
      annotations: [{
        text: data.attribution_lines.join("<br>"), showarrow: false, align: "right", xref: "paper", yref: "paper", x: 1, y: 0,
        xanchor: "right", yanchor: "bottom", font: { size: 9, color: "#444" }, bgcolor: "rgba(255,255,255,0.75)",
      }],
    };
    var config = {
      responsive: true, displaylogo: false, scrollZoom: false,
      modeBarButtonsToRemove: ["select2d", "lasso2d", "toImage"],
    };
    return Plotly.newPlot(el, traces, layout, config).then(function () {
      el.on("plotly_click", function (event) {
        var point = event.points && event.points[0];
        var url = point && point.customdata;
        if (url) window.location.href = url;
      });
      el.dataset.state = "ready";
    });
  }

  function start() {
    var el = document.getElementById("map");
    var source = document.getElementById("map-data");
    if (!el || !source) return;
    var data = JSON.parse(source.textContent);
    if (!window.Plotly) return failed(el, data);
    window.PlotlyGeoAssets = window.PlotlyGeoAssets || { topojson: {} };
    window.PlotlyGeoAssets.topojson = window.PlotlyGeoAssets.topojson || {};
    window.PlotlyGeoAssets.topojson.world_110m = { type: "Topology", objects: {}, arcs: [] };
    Promise.all(data.geo.map(getJSON))
      .then(function (collections) {
        var wanted = {};
        data.units.forEach(function (u) { if (u.feature) wanted[u.feature] = true; });
        var features = [];
        collections.forEach(function (c) {
          c.features.forEach(function (f) { if (wanted[f.id]) features.push(f); });
        });
        return draw(el, data, { type: "FeatureCollection", features: features });
      })
      .catch(function (error) {
        if (window.console) console.error(error);
        failed(el, data);
      });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
