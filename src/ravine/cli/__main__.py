"""``python -m ravine.cli``: the ravine command."""

from ravine.cli import main

main()
