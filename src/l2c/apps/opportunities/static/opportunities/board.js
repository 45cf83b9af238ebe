/* The kanban of the opportunities: native HTML5 drag and drop posting the move, no library.
 * A card ([data-deal-card]) dropped on another column ([data-board-column]) is posted to its
 * data-move-url with its version; the server answers with the card's HTML: moved (its
 * data-stage-id is the new stage) or refused (still in its stage, listing what the gate misses,
 * with the lost / override forms). Every card that arrives (drop, htmx forms on the card, the
 * "move to…" select, "more") is put in the column of its data-stage-id, and the column counts and
 * amounts follow. Refusals (4xx with a card) are swapped too, so the reasons show in place.
 */
(function () {
  "use strict";

  var dragged = null;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  function columnOf(element) { return element.closest("[data-board-column]"); }

  function columnFor(stageId) {
    return document.querySelector("[data-board-column][data-stage-id='" + CSS.escape(String(stageId)) + "']");
  }

  function money(fen) {
    return "¥" + (fen / 100).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  function adjust(column, count, amount) {
    if (!column) return;
    var counter = column.querySelector("[data-column-count]");
    var total = column.querySelector("[data-column-amount]");
    if (counter) counter.textContent = String(Math.max(0, (parseInt(counter.textContent, 10) || 0) + count));
    if (total) {
      var value = (parseInt(total.getAttribute("data-amount"), 10) || 0) + amount;
      total.setAttribute("data-amount", String(value));
      total.textContent = money(value);
    }
  }

  /* Put a (new) card into the column of its stage; from = the column it was in before. */
  function place(card, from) {
    var target = columnFor(card.getAttribute("data-stage-id"));
    if (!target) {  /* a stage of another process or a closed column not shown: leave it */
      return;
    }
    var current = columnOf(card) || from;
    if (current === target) return;
    var list = target.querySelector("[data-column-cards]");
    list.insertBefore(card, list.firstChild);
    var amount = parseInt(card.getAttribute("data-amount"), 10) || 0;
    adjust(current, -1, -amount);
    adjust(target, 1, amount);
  }

  function swapCard(oldCard, html) {
    var holder = document.createElement("div");
    holder.innerHTML = html.trim();
    var fresh = holder.querySelector("[data-deal-card]");
    if (!fresh) return null;
    var from = columnOf(oldCard);
    oldCard.replaceWith(fresh);
    if (window.htmx) window.htmx.process(fresh);
    place(fresh, from);
    var alert = fresh.querySelector("[data-gate-refusal]");
    if (alert) {
      alert.setAttribute("tabindex", "-1");
      alert.focus();
    }
    return fresh;
  }

  function move(card, stageId) {
    var body = new FormData();
    body.append("stage_id", stageId);
    body.append("version", card.getAttribute("data-version"));
    body.append("next", window.location.pathname + window.location.search);
    card.classList.add("pending");
    fetch(card.getAttribute("data-move-url"), {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "HX-Request": "true", "X-CSRFToken": csrfToken() }
    }).then(function (response) {
      return response.text().then(function (text) { return { ok: response.ok, text: text }; });
    }).then(function (result) {
      card.classList.remove("pending");
      if (!swapCard(card, result.text)) window.location.reload();
    }).catch(function () {
      card.classList.remove("pending");
      window.location.reload();
    });
  }

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest("[data-deal-card]");
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.id);
  });

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    document.querySelectorAll(".drop-target").forEach(function (column) { column.classList.remove("drop-target"); });
  });

  document.addEventListener("dragover", function (event) {
    var column = event.target.closest && event.target.closest("[data-board-column]");
    if (!column || !dragged) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    document.querySelectorAll(".drop-target").forEach(function (other) {
      if (other !== column) other.classList.remove("drop-target");
    });
    column.classList.add("drop-target");
  });

  document.addEventListener("drop", function (event) {
    var column = event.target.closest && event.target.closest("[data-board-column]");
    if (!column || !dragged) return;
    event.preventDefault();
    column.classList.remove("drop-target");
    var card = dragged;
    var stageId = column.getAttribute("data-stage-id");
    if (stageId !== card.getAttribute("data-stage-id")) move(card, stageId);
  });

  /* htmx forms on a card (move select, lost, override): a refusal comes back as 4xx with the card. */
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (target && target.matches && target.matches("[data-deal-card]") && status >= 400 && status < 500 &&
        (event.detail.xhr.responseText || "").indexOf("data-deal-card") !== -1) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
    if (target && target.matches && target.matches("[data-deal-card]")) {
      lastColumn = columnOf(target);
    }
  });

  var lastColumn = null;
  document.addEventListener("htmx:load", function (event) {
    var element = event.detail && event.detail.elt;
    if (!element || !element.matches || !element.matches("[data-deal-card]")) return;
    place(element, lastColumn);
    lastColumn = null;
  });
})();
