"""The `portico` command line: administration on the machine that runs Portico, and the public API."""
