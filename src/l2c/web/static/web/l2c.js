/* L2C UI behaviour. Loaded with `defer`; no inline scripts anywhere (CSP script-src 'self').
 * Everything uses event delegation on `document`, so content swapped in by htmx works too.
 *   [data-nav-toggle]          button toggling class "open" on the nav named by aria-controls
 *   [data-select-all]          master checkbox for [data-bulk-item] checkboxes in the same
 *                              form / [data-bulk-scope] / table (or, with a value, for
 *                              [data-bulk-item="<value>"]); in that form or [data-bulk-scope]
 *                              (else the page) [data-bulk-count] shows the number ticked and
 *                              [data-bulk-action] buttons are disabled while nothing is ticked
 *   [data-confirm="…"]         confirm() before following a link / submitting / htmx request
 *   .progress-bar[value]       0–100, drawn through the --pct custom property (no inline style)
 *   [data-fill-login]          login page: fill the demo username/password
 * CSRF for htmx comes from hx-headers on <body>.
 */
(function () {
  "use strict";

  document.documentElement.classList.remove("no-js");
  document.documentElement.classList.add("js");

  var HTMX_ATTRS = "[hx-get],[hx-post],[hx-put],[hx-patch],[hx-delete],[data-hx-get],[data-hx-post],[data-hx-put],[data-hx-patch],[data-hx-delete]";

  /* ---- mobile navigation ---- */
  function setNav(button, open) {
    var nav = document.getElementById(button.getAttribute("aria-controls")) || document.querySelector("nav.site-nav");
    if (!nav) return;
    nav.classList.toggle("open", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-nav-toggle]");
    if (toggle) {
      setNav(toggle, toggle.getAttribute("aria-expanded") !== "true");
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("[data-nav-toggle][aria-expanded='true']").forEach(function (b) {
      setNav(b, false);
      b.focus();
    });
    document.querySelectorAll("details.user-menu[open]").forEach(function (d) { d.open = false; });
  });

  /* close the user menu when clicking elsewhere */
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.user-menu[open]").forEach(function (d) {
      if (!d.contains(event.target)) d.open = false;
    });
  });

  /* ---- bulk selection ---- */
  function bulkScope(el) {
    return el.closest("form, [data-bulk-scope]") || el.closest("table") || document;
  }

  function bulkItems(master) {
    var group = master.getAttribute("data-select-all");
    if (group) return document.querySelectorAll("[data-bulk-item='" + CSS.escape(group) + "']");
    return bulkScope(master).querySelectorAll("[data-bulk-item]");
  }

  function mastersFor(item) {
    var group = item.getAttribute("data-bulk-item");
    if (group) return document.querySelectorAll("[data-select-all='" + CSS.escape(group) + "']");
    return bulkScope(item).querySelectorAll("[data-select-all]");
  }

  function refreshBulk(master) {
    var items = Array.prototype.slice.call(bulkItems(master));
    var ticked = items.filter(function (i) { return i.checked; }).length;
    master.checked = items.length > 0 && ticked === items.length;
    master.indeterminate = ticked > 0 && ticked < items.length;
    items.forEach(function (i) {
      var row = i.closest("tr");
      if (row) row.classList.toggle("is-selected", i.checked);
    });
    var scope = master.closest("form, [data-bulk-scope]") || document;
    scope.querySelectorAll("[data-bulk-count]").forEach(function (c) { c.textContent = String(ticked); });
    scope.querySelectorAll("[data-bulk-action]").forEach(function (b) { b.disabled = ticked === 0; });
  }

  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches("[data-select-all]")) {
      bulkItems(el).forEach(function (i) { if (!i.disabled) i.checked = el.checked; });
      refreshBulk(el);
    } else if (el.matches("[data-bulk-item]")) {
      mastersFor(el).forEach(refreshBulk);
    }
  });

  /* ---- confirmations ---- */
  function confirmed(el) {
    var message = el.getAttribute("data-confirm");
    return !message || window.confirm(message);
  }

  /* links and buttons (not htmx-driven: those are handled on htmx:confirm below) */
  document.addEventListener("click", function (event) {
    var el = event.target.closest("a[data-confirm], button[data-confirm], input[type=submit][data-confirm]");
    if (!el || el.matches(HTMX_ATTRS)) return;
    if (el.matches("button, input") && el.form && el.form.matches(HTMX_ATTRS)) return;
    if (!confirmed(el)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    } else if (el.form) {
      el.setAttribute("data-confirmed", "");  /* don't ask again on the form's submit */
    }
  }, true);

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    if (submitter && submitter.hasAttribute("data-confirmed")) {
      submitter.removeAttribute("data-confirmed");
      return;
    }
    if (!form.matches("form[data-confirm]") || form.matches(HTMX_ATTRS)) return;
    if (!confirmed(form)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  /* htmx requests: ask once, then let htmx continue */
  document.addEventListener("htmx:confirm", function (event) {
    var source = event.detail && event.detail.elt;
    var el = source && source.closest("[data-confirm]");
    if (!el) return;
    event.preventDefault();
    if (confirmed(el)) event.detail.issueRequest(true);
  });

  /* ---- progress bars: value attribute → --pct (CSSOM is allowed by style-src 'self') ---- */
  function paintProgress(root) {
    var scope = root && root.querySelectorAll ? root : document;
    var bars = Array.prototype.slice.call(scope.querySelectorAll(".progress-bar[value], .progress-bar[data-value]"));
    if (scope.matches && scope.matches(".progress-bar")) bars.push(scope);
    bars.forEach(function (bar) {
      var raw = parseFloat(bar.getAttribute("value") || bar.getAttribute("data-value"));
      var max = parseFloat(bar.getAttribute("max") || bar.getAttribute("data-max")) || 100;
      var pct = isNaN(raw) ? 0 : Math.max(0, Math.min(100, (raw / max) * 100));
      bar.style.setProperty("--pct", pct + "%");
    });
  }

  /* ---- login page: demo account buttons ---- */
  document.addEventListener("click", function (event) {
    var btn = event.target.closest("[data-fill-login]");
    if (!btn) return;
    var form = document.querySelector("form input[name=username]");
    var holder = btn.closest("[data-demo-password]");
    if (!form) return;
    form = form.form;
    form.elements.username.value = btn.getAttribute("data-fill-login");
    if (holder && form.elements.password) form.elements.password.value = holder.getAttribute("data-demo-password");
    (form.elements.password || form.elements.username).focus();
  });

  function init(root) {
    paintProgress(root);
    var scope = root && root.querySelectorAll ? root : document;
    scope.querySelectorAll("[data-select-all]").forEach(refreshBulk);
  }

  document.addEventListener("htmx:load", function (event) { init(event.target); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  } else {
    init(document);
  }
})();
