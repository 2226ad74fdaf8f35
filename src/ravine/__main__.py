"""``python -m ravine``: the ravine command."""

from ravine.cli import main

main()
