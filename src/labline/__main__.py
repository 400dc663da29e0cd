"""``python -m labline`` runs the CLI."""

from .cli import main

main()
