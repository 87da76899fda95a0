// The handbook's search engine, loaded by assets/handbook.js the first time the reader opens the search
// dialog: this language's Pagefind bundle (full text) and search/pages.json (each question page's title,
// section and first sentence) load at once, and the arrow keys move through the results.
// Ranking: the pages are questions, so a query that matches a page's question (its title and tags) ranks
// it first; Pagefind's full-text score ranks the rest and breaks ties. Titles are compared as Chinese
// character pairs and English word prefixes, so no dictionary is needed to split a Chinese query.
(function () {
  var button = document.querySelector(".handbook-search-open");
  var dialog = document.querySelector("dialog.handbook-search");
  if (!button || !dialog) return;

  var input = dialog.querySelector("input");
  var list = dialog.querySelector("ol");
  var status = dialog.querySelector(".handbook-search__status");
  var bundle = new URL(button.dataset.bundle, location.href);
  var root = bundle.pathname.replace(/pagefind\/$/, "");
  var zh = document.documentElement.lang === "zh";
  // Question words and particles: Pagefind looks for every word, and these would empty the results.
  var PARTICLES = zh
    ? /什么是|是什么|为什么|为何|怎么样|怎么|怎样|如何|有哪些|哪些|有什么|什么|区别|原理|介绍一下|介绍|一下|吗|呢|吧|的|了|和|与|跟|及|是|[？?，,。！!、]/g
    : /\b(?:what|whats|is|are|be|can|it|its|the|a|an|how|why|when|which|does|do|vs|versus|between|difference|differences|explain|of|in|on|by|with|and|or|to|for)\b|[?,!]/gi;
  var TITLE_WEIGHT = 1;
  var TEXT_WEIGHT = 0.5;
  var NAMED = 0.5;
  var SHOWN = 8;
  var engine = null;
  var pending = 0;
  var asked = null;
  var timer = 0;

  function load() {
    if (!engine) {
      status.textContent = dialog.dataset.loading;
      var pagefind = import(bundle.href + "pagefind.js").then(function (pf) {
        // init() only starts Pagefind's worker; filters() waits for its metadata and wasm, so they load
        // while the reader types instead of after.
        return pf.options({ baseUrl: root, excerptLength: 20 }).then(function () { return pf.init(); })
          .then(function () { return pf.filters(); }).then(function () { return pf; });
      });
      var pages = fetch(new URL("../search/pages.json", bundle).href).then(function (r) { return r.json(); })
        .then(function (all) {
          all.forEach(function (page) {
            page.fields = [
              [1, grams(terms(page.title) + " " + page.keywords.join(" ") + " " + page.aliases.join(" ") + " " + page.questions.join(" ") + " " + page.tags.join(" ").replace(/-/g, " "))],
              [0.5, grams(page.headings.join(" "))],
              [0.3, grams(page.text)],
            ];
            page.titleGrams = grams(terms(page.title));
            page.names = page.keywords.concat(page.aliases).map(name);
          });
          return all;
        });
      engine = Promise.all([pagefind, pages]);
    }
    return engine;
  }

  function terms(query) {
    return query.replace(PARTICLES, " ").replace(/\s+/g, " ").trim();
  }

  // Chinese runs as overlapping character pairs (a lone character as itself); other words lowercased
  // and without a plural or agent ending ("tokenizer" and "tokenization" are both "tokeniz"; "decoder"
  // and "decoders" are "decod", but "decoding" keeps its -ing, which would make it "decoder").
  var ENDING = /(?:ations|ation|ers|er|es|s)$/;
  function stem(word) {
    var short = word.replace(ENDING, "");
    return short.length >= 4 && short !== word ? short : word;
  }

  function grams(text) {
    var out = [];
    (text.toLowerCase().match(/[\u3400-\u9fff]+|[a-z0-9][a-z0-9+._-]*/g) || []).forEach(function (run) {
      if (!/[\u3400-\u9fff]/.test(run) || run.length === 1) { out.push(stem(run.replace(/[._-]+$/, ""))); return; }
      for (var i = 0; i + 1 < run.length; i++) out.push(run.slice(i, i + 2));
    });
    return out;
  }

  // A query word matches a page word it starts ("transf", "transformer"), or with one typo ("layernrom").
  function sameWord(word, pageWord) {
    if (word === pageWord) return true;
    if (word.length < 4 || !/^[a-z]/.test(word)) return false;
    return pageWord.indexOf(word) === 0 || (Math.min(word.length, pageWord.length) >= 5 && oneEdit(word, pageWord));
  }

  // One letter missing, added or changed, or two neighbours swapped.
  function oneEdit(a, b) {
    if (Math.abs(a.length - b.length) > 1) return false;
    var i = 0;
    while (i < a.length && a[i] === b[i]) i++;
    function same(x, y) { return a.slice(x) === b.slice(y); }
    return same(i + 1, i + 1) || same(i + 1, i) || same(i, i + 1) ||
      (a[i] === b[i + 1] && a[i + 1] === b[i] && same(i + 2, i + 2));
  }

  function has(list, g) { return list.some(function (t) { return sameWord(g, t); }); }

  // How well the page's question answers the query: each query gram counts with the weight of the best
  // field that has it (title and keywords, then headings, then the first sentence) and with its rarity
  // across pages (words every page has, like "多模态" or "model", count little), plus a little for the
  // share of the title the query covers, so "什么是多模态" prefers the short question that is just that.
  function titleScore(query, page, rarity) {
    var found = 0, total = 0;
    query.forEach(function (g, k) {
      total += rarity[k];
      for (var i = 0; i < page.fields.length; i++) {
        if (has(page.fields[i][1], g)) { found += rarity[k] * page.fields[i][0]; break; }
      }
    });
    if (!total) return 0;
    var covered = page.titleGrams.filter(function (t) { return query.some(function (g) { return sameWord(g, t); }); }).length;
    return found / total + 0.2 * covered / Math.max(page.titleGrams.length, 1);
  }

  // A query that is exactly one of the page's keywords or glossary names ("RoPE", "rotary position
  // embedding") asks for the page that answers that term, not for one that merely mentions it.
  function name(text) {
    return terms(text).toLowerCase();
  }

  // log(1 + N / df) for each query gram; 0 for a gram no page has (a pair straddling two words).
  function rarities(query, pages) {
    return query.map(function (g) {
      var df = pages.filter(function (page) { return page.fields.some(function (f) { return has(f[1], g); }); }).length;
      return df ? Math.log(1 + pages.length / df) : 0;
    });
  }

  var segmenter = window.Intl && Intl.Segmenter ? new Intl.Segmenter(zh ? "zh" : "en", { granularity: "word" }) : null;

  function words(query) {
    var all = segmenter
      ? Array.from(segmenter.segment(query)).filter(function (s) { return s.isWordLike; }).map(function (s) { return s.segment; })
      : query.split(" ");
    return all.filter(function (w, i) { return all.indexOf(w) === i; });
  }

  // Pagefind's full text, 0..1 per page: half for having every word, half shared by the words by their
  // rarity, each word's scores scaled to its best page ("DPO" outweighs "损失", found on 42 pages).
  function fullText(pagefind, query, count) {
    var each = words(query);
    var queries = each.length > 1 ? [query].concat(each) : [query];
    return Promise.all(queries.map(function (q) { return pagefind.search(q); })).then(function (found) {
      var byId = {};
      var rare = found.map(function (f) { return Math.log(1 + count / Math.max(f.results.length, 1)); });
      var sum = rare.slice(1).reduce(function (a, b) { return a + b; }, 0) || 1;
      found.forEach(function (f, k) {
        var best = f.results.length ? f.results[0].score : 1;
        var weight = queries.length === 1 ? 1 : k === 0 ? 0.5 : 0.5 * rare[k] / sum;
        f.results.forEach(function (r) {
          var entry = byId[r.id] || (byId[r.id] = { id: r.id, data: r.data, score: 0 });
          entry.score += weight * r.score / best;
        });
      });
      return Object.keys(byId).map(function (id) { return byId[id]; })
        .sort(function (a, b) { return b.score - a.score; });
    });
  }

  // Every page the question matches, and the full text's best pages, by the weighted sum of both. A
  // Pagefind result names its page by id (pages.json has each page's id), so ranking fetches nothing.
  function rank(pages, query, results) {
    var byUrl = {};
    var q = grams(query);
    var rarity = rarities(q, pages);
    pages.forEach(function (page) {
      var t = titleScore(q, page, rarity) + (page.names.indexOf(name(query)) >= 0 ? NAMED : 0);
      if (t > 0) byUrl[page.url] = { page: page, score: TITLE_WEIGHT * t };
    });
    results.slice(0, SHOWN + 4).forEach(function (r) {
      var page = pages.filter(function (p) { return p.id === r.id; })[0];
      if (!page) return;
      var entry = byUrl[page.url] || (byUrl[page.url] = { page: page, score: 0 });
      entry.score += TEXT_WEIGHT * r.score;
      entry.data = r.data;
    });
    return Object.keys(byUrl).map(function (url) { return byUrl[url]; })
      .sort(function (a, b) { return b.score - a.score; }).slice(0, SHOWN);
  }

  // The page's first sentence with the query's words marked, where Pagefind had no excerpt for it.
  function marked(text, query) {
    var escaped = text.replace(/[&<>"]/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; });
    var words = grams(query).filter(function (g) { return g.length > 1; })
      .map(function (g) { return g.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); });
    return words.length ? escaped.replace(new RegExp("(" + words.join("|") + ")", "gi"), "<mark>$1</mark>") : escaped;
  }

  // Results show at once with the page's first sentence; Pagefind's excerpt around the match replaces it
  // when that page's fragment arrives (unless a newer query has been answered since).
  function render(entries, query, ticket) {
    list.textContent = "";
    status.textContent = entries.length ? "" : dialog.dataset.none;
    entries.forEach(function (entry) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = root + entry.page.url;
      a.className = "handbook-search__result";
      var title = document.createElement("strong");
      title.textContent = entry.page.title;
      var section = document.createElement("span");
      section.className = "handbook-search__section";
      section.textContent = entry.page.section;
      var excerpt = document.createElement("span");
      excerpt.className = "handbook-search__excerpt";
      excerpt.innerHTML = marked(entry.page.text, query);
      if (entry.data) entry.data().then(function (data) {
        // Pagefind's excerpts are escaped text with <mark>, like ours.
        if (ticket === pending && data.excerpt) excerpt.innerHTML = data.excerpt;
      });
      a.append(title, section, excerpt);
      li.append(a);
      list.append(li);
    });
  }

  // data-answered records the query whose results are shown (the browser tests wait for it).
  function search() {
    var typed = input.value;
    // Leaving the box fires "change" for the query already shown: searching again would redraw the
    // results and drop the focus the arrow key just gave the first one.
    if (typed === asked) return;
    asked = typed;
    var query = terms(typed);
    var ticket = ++pending;
    if (!query) { render([], ""); status.textContent = ""; dialog.dataset.answered = typed; return; }
    load().then(function (loaded) {
      return fullText(loaded[0], query, loaded[1].length).then(function (results) { return rank(loaded[1], query, results); });
    }).then(function (entries) {
      if (ticket !== pending) return;
      render(entries, query, ticket);
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

  load().then(function () { if (!input.value) status.textContent = ""; });
  if (input.value) search(); // typed while this script loaded
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(search, 120);
    // While the reader types, fetch the index chunks the query will need.
    var query = terms(input.value);
    if (query) load().then(function (loaded) { loaded[0].preload(query); });
  });
  input.addEventListener("change", function () { clearTimeout(timer); search(); }); // committed: no wait
  dialog.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      move(event.key === "ArrowDown" ? 1 : -1);
    } else if (event.key === "Enter" && document.activeElement === input) {
      var first = list.querySelector("a");
      if (first) { event.preventDefault(); first.click(); }
    }
  });
  dialog.dataset.ready = "true"; // the listeners are on (the browser tests wait for it)
})();
