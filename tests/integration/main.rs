//! Integration tests: run the real binaries.
