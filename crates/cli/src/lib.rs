//! The netsweep command line: flags, wiring of inventory, pool, journal and report, progress display and exit codes.
