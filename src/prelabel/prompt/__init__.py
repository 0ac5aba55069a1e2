"""Prompts: sandboxed jinja2 rendering of an SOP and an item into chat messages, the prompt hash, and the
answer schema (``response_model``) built once per SOP.

Modules: ``rendering`` (templates from the top-level ``prompts/``, delimiters, hash), ``schema``
(the answer model).
May import: ``sop``, ``inputs``, ``errors``.
"""
