/* Header menus (<details data-nav-menu> in web/base.html). Loaded with `defer`; no inline script (CSP).
 * The menus work without this file (click / Enter / Space toggle a <details>, and <details name>
 * keeps one open at a time); this adds what users expect of a menu bar:
 *   - Escape closes the open menu and returns focus to its title;
 *   - on desktop, a click elsewhere or Tab leaving the menu closes it;
 *   - on a phone, opening the nav (the 菜单 button) expands the menu of the current page.
 */
(function () {
  "use strict";

  var MENUS = "details[data-nav-menu]";
  var phone = window.matchMedia("(max-width: 759.98px)");

  function openMenus() {
    return Array.prototype.slice.call(document.querySelectorAll(MENUS + "[open]"));
  }

  function close(menu, refocus) {
    menu.open = false;
    var summary = menu.querySelector("summary");
    if (refocus && summary && summary.offsetParent !== null) summary.focus();
  }

  /* One open at a time, also where <details name> is not supported. */
  document.addEventListener("toggle", function (event) {
    var menu = event.target;
    if (!menu.matches || !menu.matches(MENUS) || !menu.open) return;
    openMenus().forEach(function (other) { if (other !== menu) other.open = false; });
  }, true);

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var focused = document.activeElement;
    openMenus().forEach(function (menu) { close(menu, menu.contains(focused)); });
  });

  document.addEventListener("click", function (event) {
    if (phone.matches) return;  /* on a phone the menus are an accordion inside the opened nav */
    openMenus().forEach(function (menu) { if (!menu.contains(event.target)) close(menu, false); });
  });

  document.addEventListener("focusout", function (event) {
    if (phone.matches) return;
    var menu = event.target.closest && event.target.closest(MENUS);
    if (menu && menu.open && event.relatedTarget && !menu.contains(event.relatedTarget)) close(menu, false);
  });

  /* The nav toggle (l2c.js) sets aria-expanded on its click; run after it. */
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-nav-toggle]");
    if (!toggle || toggle.getAttribute("aria-expanded") !== "true") return;
    var active = document.querySelector(MENUS + "[data-nav-active]");
    if (active) active.open = true;
  });
})();
