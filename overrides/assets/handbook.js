// The handbook's own script. The language switcher (Material's .md-select__link, which mkdocs-static-i18n
// points at the twin page) keeps the reader's #anchor: both languages use the same explicit heading anchors.
(function () {
  function carryHash() {
    document.querySelectorAll("a.md-select__link[hreflang]").forEach(function (link) {
      link.hash = window.location.hash;
    });
  }
  carryHash();
  window.addEventListener("hashchange", carryHash);
  // Material's toc.follow and in-page links change the hash; a click on the switcher reads it at that moment.
  document.addEventListener("click", function (event) {
    if (event.target instanceof Element && event.target.closest("a.md-select__link[hreflang]")) carryHash();
  }, true);

  // The search overlay has role="dialog" but no name (axe: aria-dialog-name); name it after its input.
  document.querySelectorAll('.md-search[role="dialog"]:not([aria-label])').forEach(function (dialog) {
    var input = dialog.querySelector("input.md-search__input");
    var name = input && (input.getAttribute("aria-label") || input.getAttribute("placeholder"));
    if (name) dialog.setAttribute("aria-label", name);
  });
})();
