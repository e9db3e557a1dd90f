"""``python -m otrules.cli``: the same as the ``otrules`` command."""

from otrules.cli import main

main()
