"""Local stand-ins for AWS: a throw-away PostgreSQL, an RDS emulator on moto, and a runner
that executes the real ASL with our handlers in-process. Used by `make demo` and tests."""
