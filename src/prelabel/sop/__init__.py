"""SOPs: the strict pydantic models, YAML loading with line/column positions, cross-checks, bundled SOPs.

Modules: ``spec`` (models, ``load_sop``/``parse_sop``), ``_yaml`` (ruamel parsing and positions), ``_checks``
(pydantic messages, cross-references), ``bundled`` (the example SOPs in the top-level ``sop_specs/``).
May import: ``prelabel.errors`` and the private base modules only.
"""
