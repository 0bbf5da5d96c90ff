"""Benchmarks of the protections and of the recognition core, run as ``faceveil bench NAME`` (options in
:mod:`faceveil.cli.bench`): each module has ``run(args) -> exit status`` and writes ``result.json``
(with the command, settings, machine and figures) and its plots into ``--out``."""
