//! A simulated fleet of IOS-like and Linux-like SSH devices on loopback, with latency and faults, for tests, benchmarks and rehearsals.
