"""Benchmarks of the protections, run as ``faceveil bench NAME``: each module has ``add_arguments(parser)``
and ``run(args) -> exit status`` and writes ``result.json`` (with the command, settings, machine and
figures) and its plots into ``--out``."""
