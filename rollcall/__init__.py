"""rollcall package.

Polars allocates through its own jemalloc, which by default hands freed pages back to the kernel
within moments; the nightly job frees and reallocates gigabytes per officer partition, and paid
for it in page faults (36 s of kernel time in a 46,000-officer day, 15 s with pages kept 20 s).
jemalloc reads this setting when Polars is first loaded, so it is made here, before any import of
Polars; a value already in the environment is kept.
"""

import os

os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:20000,muzzy_decay_ms:20000")
