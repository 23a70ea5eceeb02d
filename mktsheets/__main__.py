"""`python -m mktsheets`."""
from .cli import main

main(prog_name="mktsheets")
