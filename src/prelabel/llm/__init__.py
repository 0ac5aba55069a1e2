"""Models: backends, endpoints and modes, the one model caller, transport retries, usage and prices, the
embedded model.

Modules: ``registry`` (``Backend``; backends registered under the entry points ``prelabel.backends``),
``backends/`` (prelabel's own, one module each), ``endpoints`` (resolve model/server/key/mode), ``clients``
(the openai clients, built by the backend), ``instructed`` (instructor, behind this one module),
``caller`` (``ModelCaller``: every model call goes through it), ``retry`` (tenacity, failure classes),
``usage`` (tokens, prices), ``price_data`` (genai-prices' bundled prices, never fetched), ``spend`` (the
spending limit every request passes), ``local/`` (llama.cpp, isolated in a worker process).
May import: ``prompt``, ``sop``, ``inputs``, ``errors``.
"""
