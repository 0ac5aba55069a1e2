"""SOPs: the strict pydantic models, YAML loading with line/column positions, cross-checks, bundled SOPs.

Modules: ``spec`` (models, ``load_sop``/``parse_sop``), ``_yaml`` (ruamel parsing and positions), ``_checks``
(pydantic messages, cross-references), ``bundled`` (the example SOPs in the top-level ``sop_specs/``),
``rulings`` (``Ruling``: a decision to write into an SOP), ``ruling_checks`` (rulings checked against an SOP,
their new ids), ``versions`` (bumps), ``edit`` (rulings written into the YAML text, ruamel round trip).
May import: ``prelabel.errors`` and the private base modules only.
"""
