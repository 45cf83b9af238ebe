/* Pipeline analytics charts, drawn with the vendored Apache ECharts. The data comes from the
 * <script type="application/json" id="pipeline-chart-data"> block (json_script: escaped, never
 * executed); no inline script, so the page keeps its strict CSP. Exact figures are in the tables. */
(function () {
  "use strict";

  function draw() {
    var holder = document.getElementById("pipeline-chart-data");
    if (!holder || typeof window.echarts === "undefined") return;
    var data = JSON.parse(holder.textContent);
    var labels = data.labels;
    var charts = [];
    function chart(name, option) {
      var element = document.querySelector("[data-pipeline-chart='" + name + "']");
      if (!element) return;
      var instance = window.echarts.init(element, null, { renderer: "svg" });
      instance.setOption(option);
      element.setAttribute("data-rendered", "true");
      charts.push(instance);
    }
    function title(text) { return { text: text, textStyle: { fontSize: 14 } }; }
    var categoryAxis = function (names) {
      return { type: "category", data: names, axisLabel: { interval: 0, width: 80, overflow: "truncate" } };
    };

    chart("funnel", {
      title: title(labels.funnel),
      tooltip: {
        trigger: "item",
        formatter: function (item) {
          // The tooltip is HTML: stage names are escaped, numbers are numbers.
          var encode = window.echarts.format.encodeHTML;
          return encode(item.name) + "<br>" + encode(labels.deals) + ": " + item.value + "<br>" +
            encode(labels.amount) + " (" + encode(data.currency) + "): " + item.data.amount.toLocaleString();
        }
      },
      series: [{ type: "funnel", top: 40, bottom: 10, left: "10%", width: "80%", sort: "none", minSize: "8%",
                 label: { show: true, position: "inside", formatter: "{b}: {c}" }, data: data.funnel }]
    });
    chart("conversion", {
      title: title(labels.conversion),
      tooltip: { trigger: "axis" },
      grid: { left: 50, right: 10, top: 40, bottom: 30 },
      xAxis: categoryAxis(data.conversion.names),
      yAxis: { type: "value", max: 100, name: "%" },
      series: [{ name: labels.rate, type: "bar", data: data.conversion.rates, label: { show: true, position: "top" } }]
    });
    chart("cycle_time", {
      title: title(labels.cycle_time),
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { left: 50, right: 10, top: 40, bottom: 50 },
      xAxis: categoryAxis(data.cycle_time.names),
      yAxis: { type: "value", name: labels.days },
      series: [
        { name: labels.average, type: "bar", data: data.cycle_time.average },
        { name: labels.median, type: "bar", data: data.cycle_time.median },
        { name: labels.current, type: "bar", data: data.cycle_time.current }
      ]
    });
    chart("win_rate", {
      title: title(labels.win_rate),
      tooltip: { trigger: "axis" },
      grid: { left: 50, right: 10, top: 40, bottom: 30 },
      xAxis: categoryAxis(data.win_rate.names),
      yAxis: { type: "value", max: 100, name: "%" },
      series: [{ name: labels.owners, type: "bar", data: data.win_rate.rates, label: { show: true, position: "top" } }]
    });
    var monthSeries = data.by_month.series.map(function (series) {
      return { name: series.name, type: "bar", stack: "amount", data: series.data };
    });
    monthSeries.push({ name: labels.expected, type: "line", data: data.by_month.expected });
    chart("by_month", {
      title: title(labels.by_month),
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { left: 70, right: 10, top: 40, bottom: 50 },
      xAxis: { type: "category", data: data.by_month.months },
      yAxis: { type: "value", name: data.currency },
      series: monthSeries
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
