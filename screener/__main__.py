"""`python -m screener` runs the CLI."""

from .cli import run

run()
