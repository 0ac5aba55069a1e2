"""prelabel's own backends, one module each, registered in its ``pyproject.toml`` under the entry-point group
``prelabel.backends`` exactly as a plugin package registers its own (see ``prelabel.llm.registry``).

Nothing imports these modules directly: the registry loads them through their entry points.
"""
