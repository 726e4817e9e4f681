//! Test support shared by the crates' tests and the integration tests: temp dirs, an OpenSSH sshd on loopback, simulator fleets, polling with deadlines.
