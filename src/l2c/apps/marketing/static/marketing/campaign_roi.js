/* ROI charts of a campaign page, drawn with the vendored Apache ECharts. The data comes from the
 * <script type="application/json" id="roi-chart-data"> block (json_script: escaped, never executed);
 * no inline script, so the page keeps its strict CSP. */
(function () {
  "use strict";

  function draw() {
    var holder = document.getElementById("roi-chart-data");
    if (!holder || typeof window.echarts === "undefined") return;
    var data = JSON.parse(holder.textContent);
    var charts = [];
    function chart(name, option) {
      var element = document.querySelector("[data-roi-chart='" + name + "']");
      if (!element) return;
      var instance = window.echarts.init(element, null, { renderer: "svg" });
      instance.setOption(option);
      element.setAttribute("data-rendered", "true");
      charts.push(instance);
    }
    var money = { type: "value", name: data.labels.yuan };
    chart("cost_vs_won", {
      title: { text: data.labels.cost_vs_won, textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { left: 60, right: 10, top: 40, bottom: 50 },
      xAxis: { type: "category", data: data.cost_vs_won.names, axisLabel: { interval: 0, width: 80, overflow: "truncate" } },
      yAxis: money,
      series: [
        { name: data.labels.cost, type: "bar", data: data.cost_vs_won.cost },
        { name: data.labels.won, type: "bar", data: data.cost_vs_won.won }
      ]
    });
    chart("funnel", {
      title: { text: data.labels.funnel, textStyle: { fontSize: 14 } },
      tooltip: { trigger: "item" },
      series: [{ type: "funnel", top: 40, bottom: 10, left: "10%", width: "80%", sort: "none", minSize: "8%",
                 label: { show: true, position: "inside", formatter: "{b}: {c}" }, data: data.funnel }]
    });
    chart("models", {
      title: { text: data.labels.models, textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis" },
      grid: { left: 60, right: 10, top: 40, bottom: 30 },
      xAxis: { type: "category", data: data.models.names },
      yAxis: money,
      series: [{ type: "bar", data: data.models.won }]
    });
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
