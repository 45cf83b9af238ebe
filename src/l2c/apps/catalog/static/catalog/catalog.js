/* Catalogue pages. The BOM editor answers a refused change (a cycle, a bad quantity) with status 422
   and the panel showing why: htmx does not swap error responses by default, so let this one in. */
(function () {
  "use strict";
  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    if (detail.xhr && detail.xhr.status === 422 && detail.target && detail.target.id === "bom") {
      detail.shouldSwap = true;
      detail.isError = false;
    }
  });
})();
