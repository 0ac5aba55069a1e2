"""Models: endpoints and modes, the one model caller, transport retries, usage and prices, the embedded model.

Modules: ``endpoints`` (resolve model/server/key/mode), ``clients`` (the openai clients, local or remote),
``caller`` (``ModelCaller``: every model call goes through it), ``retry`` (tenacity, failure classes),
``usage`` (tokens, prices), ``local/`` (llama.cpp, isolated in a worker process).
May import: ``prompt``, ``sop``, ``inputs``, ``errors``.
"""
