// The handbook's own script: the language switcher keeps the page, and the search loads on first use.

// Language switcher. Material's selector links to each language's root (extra.alternate). Both languages
// share paths and heading anchors, so this page's twin is the other root + this page's path under its own
// root + the #anchor. (Material's own stay-on-page lookup cannot tell "/" from "/en/", as one is a prefix
// of the other, so it would send readers to the other home page.)
(function () {
  var links = Array.prototype.slice.call(document.querySelectorAll("a.md-select__link[hreflang]"));
  var own = links.filter(function (a) { return a.hreflang === document.documentElement.lang; })[0];
  if (!own || document.querySelector("[data-handbook-404]")) return;  // the 404 page: go to the other home
  links.forEach(function (a) { a.dataset.root = a.href; });
  function retarget() {
    var here = location.href.split("#")[0].split("?")[0];
    if (here.indexOf(own.dataset.root) !== 0) return;
    var path = here.slice(own.dataset.root.length);
    links.forEach(function (a) { a.href = a.dataset.root + path + location.hash; });
  }
  retarget();
  window.addEventListener("hashchange", retarget);
  // toc.follow and in-page links change the hash without an event on some browsers; read it at the click.
  // Material has a handler for this click too (on document.body, armed by sitemaps it fetches for <head>
  // alternates, which main.html leaves out) that would drop the #anchor; the link is ours to follow.
  document.addEventListener("click", function (event) {
    if (event.target instanceof Element && event.target.closest("a.md-select__link[hreflang]")) {
      retarget();
      event.stopPropagation();
    }
  }, true);
})();

// Search, the part every page carries: the header button, the shortcuts ("/" and Ctrl/Cmd-K open the
// dialog; Esc closes it, as any <dialog>) and the dialog itself. Nothing else loads until the reader first
// opens it; then assets/handbook-search.js (the engine: index, ranking, results) loads.
(function () {
  var button = document.querySelector(".handbook-search-open");
  var dialog = document.querySelector("dialog.handbook-search");
  var header = document.querySelector(".md-header__inner");
  if (!button || !dialog || !header) return;
  header.appendChild(button); // where Material puts its own search: last, after the language selector
  button.hidden = false;
  var input = dialog.querySelector("input");
  var engine = null;

  function open() {
    if (!dialog.open) dialog.showModal();
    input.select();
    if (!engine) {
      dialog.querySelector(".handbook-search__status").textContent = dialog.dataset.loading;
      engine = document.createElement("script");
      engine.src = button.dataset.engine;
      document.head.appendChild(engine);
    }
  }

  button.addEventListener("click", open);
  document.querySelectorAll("a.handbook-search-link").forEach(function (a) {
    a.addEventListener("click", function (event) { event.preventDefault(); open(); });
  });
  if (location.hash === "#search") open();
  dialog.addEventListener("click", function (event) { if (event.target === dialog) dialog.close(); });
  document.addEventListener("keydown", function (event) {
    var typing = event.target instanceof Element && event.target.closest("input, textarea, [contenteditable]");
    var shortcut = (event.key === "k" || event.key === "K") && (event.ctrlKey || event.metaKey);
    if (shortcut || (event.key === "/" && !typing && !dialog.open)) {
      event.preventDefault();
      open();
    }
  });
})();
