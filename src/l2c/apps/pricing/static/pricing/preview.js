/* Price preview / promotion simulation cart form: add and remove rows (a <template> row whose
   "__row__" becomes the next row id), and the SKU search that fills the form's <datalist>. */
(function () {
  "use strict";

  function setup(form) {
    if (form.dataset.previewReady) return;
    form.dataset.previewReady = "1";
    var body = form.querySelector("[data-preview-lines]");
    var template = form.querySelector("template[data-preview-line-template]");
    var next = parseInt(form.dataset.nextRow || "2", 10);

    form.addEventListener("click", function (event) {
      var add = event.target.closest("[data-preview-add]");
      if (add && template && body) {
        var html = template.innerHTML.split("__row__").join(String(next));
        next += 1;
        body.insertAdjacentHTML("beforeend", html);
        var row = body.lastElementChild;
        if (window.htmx) window.htmx.process(row);
        var input = row.querySelector("input.preview-sku");
        if (input) input.focus();
        return;
      }
      var remove = event.target.closest("[data-preview-remove]");
      if (remove && body) {
        var line = remove.closest("[data-preview-line]");
        if (body.querySelectorAll("[data-preview-line]").length > 1) {
          line.remove();
        } else {
          line.querySelectorAll("input:not([type=hidden])").forEach(function (field) { field.value = ""; });
        }
      }
    });

    var timer = null;
    form.addEventListener("input", function (event) {
      var input = event.target;
      if (!input.matches || !input.matches("input.preview-sku")) return;
      var list = document.getElementById(input.getAttribute("list"));
      var url = input.dataset.skuSearch;
      if (!list || !url) return;
      clearTimeout(timer);
      var query = input.value.trim();
      if (!query) return;
      timer = setTimeout(function () {
        fetch(url + "?q=" + encodeURIComponent(query), {headers: {"HX-Request": "true"}, credentials: "same-origin"})
          .then(function (response) { return response.ok ? response.text() : ""; })
          .then(function (html) { list.innerHTML = html; })
          .catch(function () {});
      }, 250);
    });
  }

  function init(root) {
    (root || document).querySelectorAll("form[data-preview-form]").forEach(setup);
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSettle", function (event) { init(event.target); });
})();
