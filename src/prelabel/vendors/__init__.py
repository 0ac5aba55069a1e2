"""Vendors' labeling tools (Label Studio, Argilla): the names prelabel's exports give their controls and
questions, and reading what the tools export back (human labels, adjudications).

One home for both directions: `prelabel.exports` writes tasks and records with these names; the comparator
and the authoring loop read the tools' exports through this package.
May import: ``inputs``, ``sop``, ``errors`` and the private base modules only.
"""
