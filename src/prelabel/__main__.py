"""``python -m prelabel``."""

from prelabel.cli.app import main

main()
