// The handbook's own script: the language switcher keeps the page, and the search loads on first use.

// Language switcher. Material's selector links to each language's root (extra.alternate). Both languages
// share paths and heading anchors, so this page's twin is the other root + this page's path under its own
// root + the #anchor. (Material's own stay-on-page lookup cannot tell "/" from "/en/", as one is a prefix
// of the other, so it would send readers to the other home page.)
(function () {
  var links = Array.prototype.slice.call(document.querySelectorAll("a.md-select__link[hreflang]"));
  var own = links.filter(function (a) { return a.hreflang === document.documentElement.lang; })[0];
  if (!own || document.body.hasAttribute("data-handbook-404")) return;
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
  document.addEventListener("click", function (event) {
    if (event.target instanceof Element && event.target.closest("a.md-select__link[hreflang]")) retarget();
  }, true);
})();

// Search. This language's Pagefind bundle (written next to the site by the build) is imported only when
// the reader opens the dialog: the header button, "/" or Ctrl/Cmd-K. Esc closes it; the arrow keys move
// through the results. Question words and particles are dropped from the query, because Pagefind looks
// for every word and they would empty the results.
(function () {
  var button = document.querySelector(".handbook-search-open");
  var dialog = document.querySelector("dialog.handbook-search");
  var header = document.querySelector(".md-header__inner");
  if (!button || !dialog || !header) return;
  header.insertBefore(button, header.querySelector(".md-header__option") || null);
  button.hidden = false;

  var input = dialog.querySelector("input");
  var list = dialog.querySelector("ol");
  var status = dialog.querySelector(".handbook-search__status");
  var bundle = new URL(button.dataset.bundle, location.href);
  var root = bundle.pathname.replace(/pagefind\/$/, "");
  var zh = document.documentElement.lang === "zh";
  var PARTICLES = zh
    ? /什么是|是什么|为什么|为何|怎么样|怎么|怎样|如何|有哪些|哪些|有什么|什么|区别|原理|介绍一下|介绍|一下|吗|呢|吧|的|了|和|与|跟|及|是|[？?，,。！!、]/g
    : /\b(?:what|whats|is|are|the|a|an|how|why|does|do|vs|versus|between|difference|differences|explain|of)\b|[?,!]/gi;
  var engine = null;
  var pending = 0;
  var timer = 0;

  function load() {
    if (!engine) {
      status.textContent = dialog.dataset.loading;
      engine = import(bundle.href + "pagefind.js").then(function (pagefind) {
        return pagefind.options({ baseUrl: root, excerptLength: 20, ranking: window.__ranking || {} }).then(function () {
          return pagefind.init();
        }).then(function () { return pagefind; });
      });
    }
    return engine;
  }

  function open() {
    if (!dialog.open) dialog.showModal();
    input.select();
    load().then(function () { if (!input.value) status.textContent = ""; });
  }

  function terms(query) {
    return query.replace(PARTICLES, " ").replace(/\s+/g, " ").trim();
  }

  // All words first; if nothing has them all, any of them (pages ranked by their summed scores).
  function find(pagefind, query) {
    return pagefind.search(query).then(function (all) {
      var words = query.split(" ");
      if (all.results.length || words.length < 2) return all.results;
      return Promise.all(words.map(function (w) { return pagefind.search(w); })).then(function (each) {
        var byId = {};
        each.forEach(function (found) {
          found.results.forEach(function (r) {
            byId[r.id] = byId[r.id] ? { id: r.id, score: byId[r.id].score + r.score, data: r.data } : r;
          });
        });
        return Object.keys(byId).map(function (id) { return byId[id]; })
          .sort(function (a, b) { return b.score - a.score; });
      });
    });
  }

  function render(items) {
    list.textContent = "";
    status.textContent = items.length ? "" : dialog.dataset.none;
    items.forEach(function (item) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = item.url;
      a.className = "handbook-search__result";
      var title = document.createElement("strong");
      title.textContent = item.meta.title;
      var section = document.createElement("span");
      section.className = "handbook-search__section";
      section.textContent = item.meta.section || "";
      var excerpt = document.createElement("span");
      excerpt.className = "handbook-search__excerpt";
      excerpt.innerHTML = item.excerpt; // Pagefind escapes the text and adds only <mark>
      a.append(title, section, excerpt);
      li.append(a);
      list.append(li);
    });
  }

  // data-answered records the query whose results are shown (the browser tests wait for it).
  function search() {
    var typed = input.value;
    var query = terms(typed);
    var ticket = ++pending;
    if (!query) { render([]); status.textContent = ""; dialog.dataset.answered = typed; return; }
    load().then(function (pagefind) { return find(pagefind, query); }).then(function (results) {
      return Promise.all(results.slice(0, 8).map(function (r) { return r.data(); }));
    }).then(function (items) {
      if (ticket !== pending) return;
      render(items);
      dialog.dataset.answered = typed;
    });
  }

  function move(step) {
    var links = Array.prototype.slice.call(list.querySelectorAll("a"));
    if (!links.length) return;
    var at = links.indexOf(document.activeElement);
    var next = at < 0 ? (step > 0 ? 0 : links.length - 1) : at + step;
    if (next < 0 || next >= links.length) { input.focus(); return; }
    links[next].focus();
  }

  button.addEventListener("click", open);
  input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(search, 120); });
  dialog.addEventListener("click", function (event) { if (event.target === dialog) dialog.close(); });
  dialog.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      move(event.key === "ArrowDown" ? 1 : -1);
    } else if (event.key === "Enter" && document.activeElement === input) {
      var first = list.querySelector("a");
      if (first) { event.preventDefault(); first.click(); }
    }
  });
  document.addEventListener("keydown", function (event) {
    var typing = event.target instanceof Element && event.target.closest("input, textarea, [contenteditable]");
    var shortcut = (event.key === "k" || event.key === "K") && (event.ctrlKey || event.metaKey);
    if (shortcut || (event.key === "/" && !typing && !dialog.open)) {
      event.preventDefault();
      open();
    }
  });
})();
