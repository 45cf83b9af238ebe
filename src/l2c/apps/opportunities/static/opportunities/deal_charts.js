/* Charts of a deal page, drawn with the vendored Apache ECharts: the decision chain as a graph
 * (nodes coloured by attitude, sized by influence, arrows for reports-to lines) and the health
 * index history. Data comes from <script type="application/json"> blocks (json_script: escaped,
 * never executed); no inline script, so the page keeps its strict CSP. */
(function () {
  "use strict";

  function data(id) {
    var holder = document.getElementById(id);
    return holder ? JSON.parse(holder.textContent) : null;
  }

  function draw() {
    if (typeof window.echarts === "undefined") return;
    var charts = [];
    function chart(name, option) {
      var element = document.querySelector("[data-deal-chart='" + name + "']");
      if (!element) return;
      var instance = window.echarts.init(element, null, { renderer: "svg" });
      instance.setOption(option);
      element.setAttribute("data-rendered", "true");
      charts.push(instance);
    }
    var chain = data("chain-chart-data");
    if (chain && chain.nodes.length) {
      chart("chain", {
        tooltip: {
          formatter: function (params) {
            if (params.dataType === "edge") return chain.labels.reports_to;
            var node = params.data;
            return [node.name, node.title, node.role, node.attitude].filter(Boolean).map(function (text) {
              return String(text).replace(/[&<>"']/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; });
            }).join("<br>");
          }
        },
        series: [{
          type: "graph", layout: "force", roam: true, draggable: true,
          force: { repulsion: 260, edgeLength: 110 },
          edgeSymbol: ["none", "arrow"], edgeSymbolSize: 9,
          label: { show: true, position: "bottom", formatter: function (params) { return params.data.name + "\n" + params.data.role; } },
          lineStyle: { color: "#94a3b8", width: 1.5 },
          data: chain.nodes.map(function (node) {
            return { id: node.id, name: node.name, title: node.title, role: node.role, attitude: node.attitude,
                     symbolSize: node.size, itemStyle: { color: node.color } };
          }),
          links: chain.links
        }]
      });
    }
    var health = data("health-chart-data");
    if (health && health.values.length) {
      chart("health", {
        tooltip: { trigger: "axis" },
        grid: { left: 40, right: 16, top: 20, bottom: 40 },
        xAxis: { type: "category", data: health.dates },
        yAxis: { type: "value", min: 0, max: 100 },
        series: [{ name: health.labels.index, type: "line", step: "end", data: health.values, areaStyle: { opacity: 0.08 } }]
      });
    }
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
