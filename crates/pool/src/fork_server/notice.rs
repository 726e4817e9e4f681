//! The fork server's notices to the coordinator, encoded and decoded here and nowhere else.
//!
//! One `SOCK_SEQPACKET` message of [`NOTICE_LEN`] bytes each, `[tag u32][pid u32][value i32]`,
//! little-endian. The tag is an ASCII letter: `R` ready (pid: the server's own), `P` spawned
//! (pid: the new worker's), `F` fork failed (value: errno), `X` exited (value: exit code), `K`
//! killed (value: signal). Both ends are the same binary, so the format needs no version; it
//! must only never be read as anything but what it is.

/// The length of every notice.
pub(super) const NOTICE_LEN: usize = 12;

const READY: u32 = b'R' as u32;
const SPAWNED: u32 = b'P' as u32;
const FORK_FAILED: u32 = b'F' as u32;
const EXITED: u32 = b'X' as u32;
const KILLED: u32 = b'K' as u32;

/// What the fork server tells the coordinator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Notice {
    /// The server is set up and takes requests.
    Ready {
        /// The server's own pid.
        pid: u32,
    },
    /// A worker was forked, as asked.
    Spawned {
        /// The worker's pid.
        pid: u32,
    },
    /// A request could not be met: `fork` failed, or the request was malformed.
    ForkFailed {
        /// Why (an errno value).
        errno: i32,
    },
    /// A worker exited by itself.
    Exited {
        /// The worker's pid.
        pid: u32,
        /// Its exit code.
        code: i32,
    },
    /// A worker was killed by a signal.
    Killed {
        /// The worker's pid.
        pid: u32,
        /// The signal's number.
        signal: i32,
    },
}

impl Notice {
    /// The notice's bytes on the wire.
    pub(super) fn encode(self) -> [u8; NOTICE_LEN] {
        let (tag, pid, value) = match self {
            Notice::Ready { pid } => (READY, pid, 0),
            Notice::Spawned { pid } => (SPAWNED, pid, 0),
            Notice::ForkFailed { errno } => (FORK_FAILED, 0, errno),
            Notice::Exited { pid, code } => (EXITED, pid, code),
            Notice::Killed { pid, signal } => (KILLED, pid, signal),
        };
        let mut bytes = [0u8; NOTICE_LEN];
        bytes[..4].copy_from_slice(&tag.to_le_bytes());
        bytes[4..8].copy_from_slice(&pid.to_le_bytes());
        bytes[8..].copy_from_slice(&value.to_le_bytes());
        bytes
    }

    /// The notice in `bytes` (one whole message); `None` if it is not one.
    pub(super) fn decode(bytes: &[u8]) -> Option<Notice> {
        let bytes: &[u8; NOTICE_LEN] = bytes.try_into().ok()?;
        let word = |i: usize| [bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]];
        let (tag, pid, value) = (
            u32::from_le_bytes(word(0)),
            u32::from_le_bytes(word(4)),
            i32::from_le_bytes(word(8)),
        );
        Some(match tag {
            READY => Notice::Ready { pid },
            SPAWNED => Notice::Spawned { pid },
            FORK_FAILED => Notice::ForkFailed { errno: value },
            EXITED => Notice::Exited { pid, code: value },
            KILLED => Notice::Killed { pid, signal: value },
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_layout_is_tag_pid_value_little_endian() {
        let bytes = Notice::Exited {
            pid: 0x0102_0304,
            code: -2,
        }
        .encode();
        assert_eq!(
            bytes,
            [
                b'X', 0, 0, 0, 0x04, 0x03, 0x02, 0x01, 0xfe, 0xff, 0xff, 0xff
            ]
        );
        assert_eq!(
            &Notice::Ready { pid: 7 }.encode()[..8],
            b"R\0\0\0\x07\0\0\0"
        );
        assert_eq!(
            &Notice::ForkFailed { errno: 11 }.encode()[..8],
            b"F\0\0\0\0\0\0\0"
        );
    }

    #[test]
    fn anything_but_a_whole_notice_is_refused() {
        let whole = Notice::Killed { pid: 42, signal: 9 }.encode();
        assert_eq!(Notice::decode(&whole[..NOTICE_LEN - 1]), None);
        assert_eq!(Notice::decode(&[whole.as_slice(), &[0]].concat()), None);
        assert_eq!(Notice::decode(&[]), None);
        let mut unknown = whole;
        unknown[0] = b'Z';
        assert_eq!(Notice::decode(&unknown), None);
        let mut high_tag = whole;
        high_tag[3] = 1;
        assert_eq!(Notice::decode(&high_tag), None);
    }

    fn any_notice() -> impl Strategy<Value = Notice> {
        prop_oneof![
            any::<u32>().prop_map(|pid| Notice::Ready { pid }),
            any::<u32>().prop_map(|pid| Notice::Spawned { pid }),
            any::<i32>().prop_map(|errno| Notice::ForkFailed { errno }),
            (any::<u32>(), any::<i32>()).prop_map(|(pid, code)| Notice::Exited { pid, code }),
            (any::<u32>(), any::<i32>()).prop_map(|(pid, signal)| Notice::Killed { pid, signal }),
        ]
    }

    proptest! {
        #[test]
        fn every_notice_decodes_to_itself(notice in any_notice()) {
            prop_assert_eq!(Notice::decode(&notice.encode()), Some(notice));
        }
    }
}
