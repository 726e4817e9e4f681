//! What a device says when it cannot check credentials because its AAA server (TACACS+,
//! RADIUS) did not answer: a failure that goes away on its own, unlike a rejected password.
//!
//! Devices show it in the login dialogue (a keyboard-interactive instruction or prompt over
//! SSH, a line before the next `Username:` over telnet). Only these phrases count; anything
//! else that ends a login without success stays a rejection (`auth_failed`), never retried:
//! retrying a wrong password locks accounts. Matching is by phrase, case-insensitive, one
//! line at a time, and only the matching line is kept (device text, never a credential).
//!
//! Limit: over SSH the words are seen only in a keyboard-interactive request that also asks
//! something (ssh2 does not call back for a request with no prompt), and never after a
//! `password` login, whose refusal carries no text. A device that closes the connection
//! during login instead is `connection_lost` at `auth`, retried as any lost connection.

/// Phrases that say the AAA server, not the credentials, failed:
/// - `error in authentication`: Cisco IOS, `% Error in authentication.`, when every AAA
///   method errored (server unreachable or timed out) rather than refused;
/// - `servers unreachable`, `server unreachable`: NX-OS `Remote AAA servers unreachable`
///   (with `aaa authentication login error-enable`), OcNOS `Remote TACACS servers
///   unreachable`;
/// - `servers responding`: HP/Aruba `No Tacacs servers responding`;
/// - `server unavailable`, `server timeout`, `server timed out`: the words RADIUS and TACACS+
///   front ends use for the same.
const UNAVAILABLE: &[&str] = &[
    "error in authentication",
    "servers unreachable",
    "server unreachable",
    "servers responding",
    "server unavailable",
    "servers unavailable",
    "server timeout",
    "server timed out",
    "servers timed out",
];

/// The line of `text` that says the device's AAA server did not answer, trimmed, if any.
pub(crate) fn unavailable_notice(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .find(|line| {
            let lower = line.to_ascii_lowercase();
            UNAVAILABLE.iter().any(|phrase| lower.contains(phrase))
        })
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aaa_server_failures_are_recognised_and_rejections_are_not() {
        for (text, line) in [
            ("% Error in authentication.", "% Error in authentication."),
            (
                "User Access Verification\r\n  Remote AAA servers unreachable; local authentication failed\r\n",
                "Remote AAA servers unreachable; local authentication failed",
            ),
            (
                "No Tacacs servers responding",
                "No Tacacs servers responding",
            ),
            ("RADIUS server timed out", "RADIUS server timed out"),
        ] {
            assert_eq!(unavailable_notice(text).as_deref(), Some(line), "{text:?}");
        }
        for rejection in [
            "% Authentication failed",
            "% Login invalid",
            "% Bad passwords",
            "Password: ",
            "Access denied",
            "",
        ] {
            assert_eq!(unavailable_notice(rejection), None, "{rejection:?}");
        }
    }
}
