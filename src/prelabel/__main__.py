"""``python -m prelabel``."""

from prelabel.cli import main

main()
