//! Tells the device crate whether the OpenSSL that libssh2 links is 3.x, whose algorithm
//! fetching `prepare_process` warms up (see `warm_up` in lib.rs). openssl-sys passes its
//! version to the crates that depend on it directly.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(openssl3)");
    println!("cargo::rerun-if-env-changed=DEP_OPENSSL_VERSION_NUMBER");
    let version = std::env::var("DEP_OPENSSL_VERSION_NUMBER")
        .ok()
        .and_then(|v| u64::from_str_radix(&v, 16).ok());
    if version.is_some_and(|v| v >= 0x3000_0000) {
        println!("cargo::rustc-cfg=openssl3");
    }
}
