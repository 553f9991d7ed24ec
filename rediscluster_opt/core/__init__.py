"""Pure protocol and cluster logic: no sockets, no event loop, no client-level errors."""
