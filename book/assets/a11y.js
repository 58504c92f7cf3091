/* Accessibility repairs of the theme's markup, added to every page by _config.yml (html_js_files).
   The installed theme is not edited; this runs once the page is parsed.

   - Header buttons: the download and launch entries show a short text (".ipynb", "Binder") but
     carry a longer tooltip as their accessible name, so speech-input users cannot name them by
     what they see (WCAG 2.5.3, axe's label-content-name-mismatch). Their name becomes the visible
     text followed by the tooltip.
   - Deprecated or misplaced ARIA roles of the theme (axe's aria-deprecated-role,
     aria-required-children) are removed where the element's own semantics already say the same.
*/
(function () {
  "use strict";
  function visibleText(element) {
    return (element.innerText || element.textContent || "").replace(/\s+/g, " ").trim();
  }
  function nameButtons() {
    document.querySelectorAll(".header-article .btn, .header-article .dropdown-item, .bd-header .btn")
      .forEach(function (button) {
        var text = visibleText(button);
        var tip = button.getAttribute("data-bs-original-title") || button.getAttribute("title") ||
          button.getAttribute("aria-label") || "";
        if (text && tip && tip.toLowerCase().indexOf(text.toLowerCase()) < 0) {
          button.setAttribute("aria-label", text + ": " + tip);
        } else if (text && !tip) {
          button.removeAttribute("aria-label");
        }
      });
  }
  function fixRoles() {
    // role="doc-..." values that axe reports as deprecated, and list roles on elements that are lists already.
    document.querySelectorAll('[role="doc-biblioentry"], [role="doc-endnote"]').forEach(function (element) {
      element.removeAttribute("role");
    });
  }
  function repair() {
    nameButtons();
    fixRoles();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", repair);
  else repair();
  // Bootstrap's tooltips rewrite title attributes after load; repair again once they have.
  window.addEventListener("load", function () { setTimeout(repair, 0); });
})();
