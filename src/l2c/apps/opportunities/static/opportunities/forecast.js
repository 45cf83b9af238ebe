/* Charts of the forecast pages, drawn with the vendored Apache ECharts. Data comes from
 * <script type="application/json"> blocks (json_script: escaped, never executed); no inline script,
 * so the pages keep their strict CSP. */
(function () {
  "use strict";

  var charts = [];

  function init(element, option) {
    var instance = window.echarts.init(element, null, { renderer: "svg" });
    instance.setOption(option);
    element.setAttribute("data-rendered", "true");
    charts.push(instance);
  }

  function rollup() {
    var holder = document.getElementById("forecast-chart-data");
    var element = document.querySelector("[data-forecast-chart='rollup']");
    if (!holder || !element) return;
    var data = JSON.parse(holder.textContent);
    var series = data.series.map(function (item) {
      return { name: item.name, type: "bar", stack: "amount", data: item.data };
    });
    series.push({ name: data.labels.expected, type: "line", data: data.expected, symbol: "circle" });
    series.push({ name: data.labels.submitted, type: "scatter", data: data.submitted, symbolSize: 12 });
    init(element, {
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { left: 70, right: 10, top: 20, bottom: 60 },
      xAxis: { type: "category", data: data.names, axisLabel: { interval: 0, width: 80, overflow: "truncate" } },
      yAxis: { type: "value", name: data.labels.yuan },
      series: series
    });
  }

  function accuracy() {
    var holder = document.getElementById("accuracy-chart-data");
    if (!holder) return;
    var data = JSON.parse(holder.textContent);
    var labels = data.labels;
    var periods = document.querySelector("[data-accuracy-chart='periods']");
    if (periods) {
      init(periods, {
        tooltip: { trigger: "axis" },
        legend: { bottom: 0 },
        grid: { left: 70, right: 50, top: 30, bottom: 50 },
        xAxis: { type: "category", data: data.periods },
        yAxis: [{ type: "value", name: labels.yuan }, { type: "value", name: labels.error }],
        series: [
          { name: labels.forecast, type: "bar", data: data.forecast },
          { name: labels.actual, type: "bar", data: data.actual },
          { name: labels.error, type: "line", yAxisIndex: 1, data: data.error, connectNulls: false }
        ]
      });
    }
    var calibration = document.querySelector("[data-accuracy-chart='calibration']");
    if (calibration) {
      var scatter = function (name, points) {
        return { name: name, type: "line", data: points.map(function (p) { return [p[0], p[1], p[2]]; }),
                 symbolSize: function (value) { return Math.min(24, 6 + Math.sqrt(value[2])); } };
      };
      init(calibration, {
        tooltip: { trigger: "item" },
        legend: { bottom: 0 },
        grid: { left: 60, right: 20, top: 30, bottom: 60 },
        xAxis: { type: "value", min: 0, max: 1, name: labels.predicted, nameLocation: "middle", nameGap: 25 },
        yAxis: { type: "value", min: 0, max: 1, name: labels.observed },
        series: [
          { name: labels.perfect, type: "line", data: [[0, 0], [1, 1]], symbol: "none", lineStyle: { type: "dashed" } },
          scatter(labels.model, data.calibration_model),
          scatter(labels.baseline, data.calibration_baseline),
          scatter(labels.held_out, data.calibration_held_out)
        ]
      });
    }
  }

  function draw() {
    if (typeof window.echarts === "undefined") return;
    rollup();
    accuracy();
    window.addEventListener("resize", function () {
      charts.forEach(function (instance) { instance.resize(); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
