// Draws the page's charts from JSON islands ({{ data|json_script }}); no inline script, so a strict CSP holds.
(function () {
  "use strict";
  if (typeof Chart === "undefined") { return; }

  // 24 colours, one per member of a large consortium: every pair differs by at least 25 in CIELAB
  // (Delta E 1976) and each has at least 3:1 contrast on white (tests/web/test_chart_palette.py).
  var PALETTE = [
    "#2f4fcf", "#1a9e6a", "#e0792b", "#9b4dca", "#d0425c", "#1b8fb5", "#7a8b1a", "#5c6270",
    "#00aa00", "#ff44bb", "#885533", "#bb77aa", "#bb0000", "#6633ee", "#6688dd", "#ee44ff",
    "#889977", "#991177", "#006600", "#116655", "#664488", "#884455", "#886600", "#bb8888"
  ];
  var currencyEl = document.getElementById("chart-currency");
  var currency = (currencyEl && currencyEl.dataset.currency) || "USD";

  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#3d4452";
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.plugins.legend.labels.boxWidth = 14;

  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  function moneyFull(v) {
    return new Intl.NumberFormat("en-US", { style: "currency", currency: currency, maximumFractionDigits: 0 }).format(v);
  }
  function moneyShort(v) {
    return new Intl.NumberFormat("en-US", { style: "currency", currency: currency, notation: "compact", maximumFractionDigits: 1 }).format(v);
  }
  function gpuh(v) { return new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 }).format(v) + " GPU-h"; }
  function gpuhShort(v) { return new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 }).format(v) + " GPU-h"; }
  function pct(v) { return v === null || v === undefined ? "–" : v.toFixed(1) + " %"; }

  // On a phone (a window under NARROW px), the names under a chart of members or scenarios
  // (namesBelow) stand upright, cut to LABEL_CHARS characters (the tooltip keeps the whole name):
  // tilted, the first one ran past the chart's left edge.
  var NARROW = 560;
  var LABEL_CHARS = 14;
  function narrowLabels(config) {
    var scales = config.options.scales = config.options.scales || {};
    var x = scales.x = scales.x || {};
    x.ticks = x.ticks || {};
    x.ticks.minRotation = 90;
    x.ticks.maxRotation = 90;
    x.ticks.callback = function (value) {
      var label = String(this.getLabelForValue(value));
      return label.length > LABEL_CHARS ? label.slice(0, LABEL_CHARS - 1) + "\u2026" : label;
    };
  }

  function draw(canvasId, config) {
    var canvas = document.getElementById(canvasId);
    if (!canvas) { return; }
    config.options = config.options || {};
    config.options.plugins = config.options.plugins || {};
    if (config.namesBelow && window.innerWidth < NARROW) { narrowLabels(config); }
    delete config.namesBelow;
    config.plugins = (config.plugins || []).concat([{
      id: "mark-drawn",
      afterRender: function (chart) { chart.canvas.dataset.drawn = "true"; }
    }]);
    new Chart(canvas, config);
  }

  var contributions = data("data-contributions");
  if (contributions) {
    draw("chart-contributions", {
      namesBelow: true,
      type: "bar",
      data: {
        labels: contributions.labels,
        datasets: [
          { label: "Pledged", data: contributions.pledged, backgroundColor: "#b7c4f5", borderColor: "#2f4fcf", borderWidth: 1 },
          { label: "Delivered", data: contributions.delivered, backgroundColor: "#2f4fcf" }
        ]
      },
      options: {
        scales: { y: { beginAtZero: true, ticks: { callback: gpuhShort }, title: { display: true, text: "GPU-hours" } } },
        plugins: { tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + gpuh(c.parsed.y); } } } }
      }
    });
  }

  var costs = data("data-costs");
  if (costs) {
    draw("chart-costs", {
      namesBelow: true,
      type: "bar",
      data: {
        labels: costs.labels,
        datasets: [
          { label: costs.standalone_label || "Going alone", data: costs.standalone, backgroundColor: "#c3c9d3" },
          { label: costs.allocated_label || "In the consortium", data: costs.allocated, backgroundColor: "#2f4fcf" }
        ]
      },
      options: {
        scales: { y: { beginAtZero: true, ticks: { callback: moneyShort } } },
        plugins: { tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + moneyFull(c.parsed.y); } } } }
      }
    });
  }

  var savings = data("data-savings");
  if (savings) {
    draw("chart-savings", {
      namesBelow: true,
      type: "bar",
      data: {
        labels: savings.labels,
        datasets: [
          {
            type: "line", label: "Median", data: savings.median, showLine: false,
            pointRadius: 6, pointHoverRadius: 7, pointBackgroundColor: "#161b2e", pointBorderColor: "#fff", pointBorderWidth: 2
          },
          { label: "P10 to P90", data: savings.band, backgroundColor: "rgba(26, 158, 106, 0.35)", borderColor: "#1a7a43", borderWidth: 1, borderSkipped: false, barPercentage: 0.5 }
        ]
      },
      options: {
        scales: { y: { ticks: { callback: function (v) { return v + " %"; } }, title: { display: true, text: savings.axis || "Savings against going alone" } } },
        plugins: {
          tooltip: {
            callbacks: {
              label: function (c) {
                var raw = c.raw;
                if (Array.isArray(raw)) { return "P10 " + pct(raw[0]) + " to P90 " + pct(raw[1]); }
                return "Median " + pct(raw);
              }
            }
          }
        }
      }
    });
  }

  var years = data("data-years");
  if (years && years.series.length) {
    // A one-year horizon has a single point per member: bars read better than dots.
    var single = years.labels.length === 1;
    draw("chart-years", {
      type: single ? "bar" : "line",
      data: {
        labels: years.labels.map(function (y) { return "Year " + y; }),
        datasets: years.series.map(function (s, i) {
          return { label: s.label, data: s.data, borderColor: PALETTE[i % PALETTE.length], backgroundColor: PALETTE[i % PALETTE.length], tension: 0.2, pointRadius: 3 };
        })
      },
      options: {
        scales: { y: { ticks: { callback: moneyShort }, title: { display: true, text: "Cumulative savings" } } },
        plugins: { tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + moneyFull(c.parsed.y); } } } }
      }
    });
  }

  var stability = data("data-stability");
  if (stability) {
    // Whiskers of +/- 2 standard errors as floating bars behind the estimate, clipped to [0, 100].
    var whiskers = stability.prob_in_core.map(function (p, i) {
      var se = stability.stderr[i];
      return [Math.max(0, p - 2 * se), Math.min(100, p + 2 * se)];
    });
    draw("chart-stability", {
      type: "bar",
      data: {
        labels: stability.labels,
        datasets: [
          { label: "P(in the core)", data: stability.prob_in_core, backgroundColor: "#2f4fcf", barPercentage: 0.6, order: 2 },
          { label: "± 2 standard errors", data: whiskers, backgroundColor: "rgba(22, 27, 46, 0.25)", barPercentage: 0.15, grouped: false, order: 1 },
          {
            type: "line", label: "Core not empty", data: stability.labels.map(function () { return stability.core_nonempty; }),
            borderColor: "#1a9e6a", borderDash: [6, 4], pointRadius: 0, order: 0
          }
        ]
      },
      options: {
        indexAxis: "x",
        scales: { y: { min: 0, max: 100, ticks: { callback: function (v) { return v + " %"; } }, title: { display: true, text: "Share of draws" } } },
        plugins: {
          tooltip: {
            callbacks: {
              label: function (c) {
                var raw = c.raw;
                if (Array.isArray(raw)) { return "± 2 standard errors: " + pct(raw[0]) + " to " + pct(raw[1]); }
                return c.dataset.label + ": " + pct(raw);
              }
            }
          }
        }
      }
    });
  }

  var compare = data("data-compare");
  if (compare) {
    draw("chart-compare", {
      namesBelow: true,
      type: "bar",
      data: {
        labels: compare.labels,
        datasets: compare.series.map(function (s, i) {
          return { label: s.label, data: s.data, backgroundColor: PALETTE[i % PALETTE.length] };
        })
      },
      options: {
        scales: { y: { ticks: { callback: function (v) { return v + " %"; } }, title: { display: true, text: compare.axis || "Savings against going alone" } } },
        plugins: { tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + pct(c.parsed.y); } } } }
      }
    });
  }

  // Waterfalls of the compare page: one floating bar per step, from the savings before it to after
  // it; the first and last bars are the savings in the baseline and in the other scenario.
  var waterfalls = data("data-waterfalls");
  if (waterfalls) {
    Object.keys(waterfalls).forEach(function (id) {
      var w = waterfalls[id];
      var last = w.bars.length - 1;
      draw(id, {
        type: "bar",
        data: {
          labels: w.labels,
          datasets: [{
            label: w.member,
            data: w.bars,
            backgroundColor: w.bars.map(function (b, i) {
              if (i === 0 || i === last) { return "#5c6270"; }
              return b[1] >= b[0] ? "#1a9e6a" : "#d0425c";
            })
          }]
        },
        options: {
          indexAxis: "y",
          plugins: {
            legend: { display: false },
            tooltip: { callbacks: { label: function (c) {
              var b = w.bars[c.dataIndex];
              if (c.dataIndex === 0 || c.dataIndex === last) { return "Savings: " + moneyFull(b[1]); }
              var change = b[1] - b[0];
              return (change >= 0 ? "+" : "") + moneyFull(change) + " (to " + moneyFull(b[1]) + ")";
            } } }
          },
          scales: { x: { ticks: { callback: moneyShort }, title: { display: true, text: "Savings at central parameters" } } }
        }
      });
    });
  }
})();
