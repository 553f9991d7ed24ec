"""What the stories measure with, beyond the client benchmark: micro-benchmark cases and
cachegrind counts, the in-process fake transport, TLS cost, live slot migration and
production faults. None of it names a story."""
