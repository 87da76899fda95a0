"""The handbook's build: MkDocs hooks and the steps around two per-language MkDocs builds.

``python -m handbook_build`` (``make build``) runs the whole build:

1. :mod:`~handbook_build.snippets` executes every distinct snippet the pages include, once, in parallel,
   into a content-addressed store;
2. ``mkdocs build`` runs for ``mkdocs.yml`` (Chinese, at ``/``) and ``mkdocs.en.yml`` (English, at
   ``/en/``) in parallel; :mod:`~handbook_build.hooks` generates what comes from ``site_map.yml`` and reads
   each executed block's output from the store;
3. the two sites are assembled into ``site/``.

:mod:`~handbook_build.urls` is the one map between a page's language, source file and URL.
"""
