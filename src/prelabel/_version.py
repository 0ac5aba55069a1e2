"""The one version string: hatchling reads it for the wheel, ``prelabel.__version__`` re-exports it."""

__version__ = "0.1.0"
