/* The guided configurator's live price (ADR 0006): after every state change, post the priced lines of
   the expanded configuration to the pricing preview API and show its totals. The configurator works
   without it (expansion, validation and cost come from the server); when the preview is missing or
   refuses the lines, the box says so. */
(function () {
  "use strict";

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  function show(box, rows, note) {
    box.textContent = "";
    if (rows.length) {
      var list = document.createElement("dl");
      list.className = "config-figures";
      rows.forEach(function (row) {
        var term = document.createElement("dt");
        term.textContent = row[0];
        var value = document.createElement("dd");
        value.className = "num";
        value.textContent = row[1];
        list.appendChild(term);
        list.appendChild(value);
      });
      box.appendChild(list);
    }
    if (note) {
      var paragraph = document.createElement("p");
      paragraph.className = "muted small";
      paragraph.textContent = note;
      box.appendChild(paragraph);
    }
  }

  var pending = null;

  function refresh() {
    var box = document.getElementById("live-price");
    if (!box || !window.fetch) {
      return;
    }
    var labels = box.dataset;
    var request = JSON.parse(box.getAttribute("data-price-request") || "{}");
    if (!request.lines || !request.lines.length) {
      show(box, [], labels.emptyText || "—");
      return;
    }
    if (pending) {
      pending.abort();
    }
    pending = window.AbortController ? new AbortController() : null;
    show(box, [], labels.loadingText || "…");
    fetch(box.getAttribute("data-price-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken()},
      body: JSON.stringify(request),
      signal: pending ? pending.signal : undefined
    }).then(function (response) {
      return response.json().then(function (body) { return {ok: response.ok, body: body}; });
    }).then(function (answer) {
      if (!answer.ok || !answer.body.totals) {
        show(box, [], (labels.unavailableText || "") + (answer.body && answer.body.detail ? " " + answer.body.detail : ""));
        return;
      }
      var totals = answer.body.totals;
      var rows = [
        [labels.totalLabel, totals.total_amount],
        [labels.netLabel, totals.net_amount],
        [labels.discountLabel, totals.discount_amount],
        [labels.marginLabel, totals.margin_percent === null || totals.margin_percent === undefined ? "—" : totals.margin_percent + "%"]
      ];
      var blocking = (answer.body.violations || []).length + (answer.body.approvals || []).length;
      show(box, rows, blocking ? labels.approvalText : "");
    }).catch(function (error) {
      if (error && error.name === "AbortError") {
        return;
      }
      show(box, [], labels.unavailableText || "");
    });
  }

  document.addEventListener("DOMContentLoaded", refresh);
  document.body.addEventListener("htmx:afterSettle", function (event) {
    if (event.target && event.target.id === "configurator") {
      refresh();
    }
  });
})();
