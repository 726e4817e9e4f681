//! The simulator seen from the client side: real `ssh2` (libssh2) and OpenSSH `ssh` clients,
//! and a raw socket for telnet, against fleets on ephemeral loopback ports. One test binary,
//! one link step.

mod faults;
mod helpers;
mod ios;
mod keys;
mod linux;
mod openssh;
mod session_log;
mod spec;
mod telnet;
