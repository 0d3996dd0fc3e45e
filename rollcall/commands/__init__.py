"""The ``rollcall`` command groups, one module each; :mod:`rollcall.cli` assembles them."""
