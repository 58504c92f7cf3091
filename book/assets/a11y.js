/* Accessibility repairs of the theme's markup, added to every page by _config.yml (html_js_files).
   The installed theme is not edited; this runs once the page is parsed, and again whenever
   the theme's scripts change the attributes it repairs.

   - Controls whose accessible name (aria-label) does not contain their visible text, so that
     speech-input users cannot call them by what they see (WCAG 2.5.3, axe's
     label-content-name-mismatch): the "Show code cell source" / "Show solution" toggles
     (aria-label "Toggle hidden content") and the search field ("Search" beside "Ctrl+K"). They
     lose the aria-label and are named by their visible text; <details>/<summary> already tells
     assistive technology whether the content is shown.
   - Font Awesome icons inside a control that is named by aria-label or title are decoration:
     they are hidden from assistive technology, with the hidden titles of their SVGs (the
     colour-mode button holds three of them).
   - Bibliography entries: their deprecated role doc-biblioentry becomes listitem, the role
     their list expects (axe's aria-deprecated-role and aria-required-children).
*/
(function () {
  "use strict";
  function visibleText(element) {
    return (element.innerText || "").replace(/\s+/g, " ").trim();
  }
  function nameControlsByTheirText() {
    document.querySelectorAll("summary[aria-label], button[aria-label], a[aria-label]").forEach(function (control) {
      var text = visibleText(control), label = control.getAttribute("aria-label");
      if (text && label.replace(/\s+/g, " ").toLowerCase().indexOf(text.toLowerCase()) < 0) {
        control.removeAttribute("aria-label");
      }
    });
  }
  function hideDecorativeIcons() {
    document.querySelectorAll("button, a").forEach(function (control) {
      if (!control.hasAttribute("aria-label") && !control.hasAttribute("title") &&
          !control.hasAttribute("data-bs-original-title")) return;
      control.querySelectorAll('i[class*="fa-"], span[class*="fa-"]').forEach(function (icon) {
        if (!icon.textContent.trim()) icon.setAttribute("aria-hidden", "true");
      });
      // Font Awesome turns each <i> into an <svg> with a <title> ("Light", "Dark", ...), which
      // counts as text inside the button although nobody sees it: the title goes.
      control.querySelectorAll("svg.svg-inline--fa").forEach(function (icon) {
        icon.querySelectorAll("title").forEach(function (title) { title.remove(); });
        icon.removeAttribute("aria-labelledby");
        icon.removeAttribute("role");
        icon.setAttribute("aria-hidden", "true");
      });
    });
  }
  function fixRoles() {
    document.querySelectorAll('[role="doc-biblioentry"]').forEach(function (element) {
      element.setAttribute("role", "listitem");
    });
  }
  function repair() {
    nameControlsByTheirText();
    hideDecorativeIcons();
    fixRoles();
  }
  // Scripts of the theme add and change these attributes after load (tooltips, the search
  // dialog), so the repair runs again, once per batch, whenever the page changes them.
  var scheduled = false;
  function schedule() {
    if (scheduled) return;
    scheduled = true;
    setTimeout(function () { scheduled = false; repair(); }, 0);
  }
  function start() {
    repair();
    new MutationObserver(schedule).observe(document.body, {
      subtree: true, childList: true, attributes: true, attributeFilter: ["aria-label", "role", "title"]
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
