//! Length-prefixed JSON frames between the coordinator and its worker processes.
//!
//! A frame is a 4-byte big-endian length followed by that many bytes of JSON. Frames are
//! capped at [`MAX_FRAME_LEN`]: a worker that writes anything else (a stray `println!`, a
//! crash dump) produces a typed [`FrameError`] instead of an allocation of gigabytes.
//!
//! Outputs of megabytes are handled on purpose: a worker sends each command's output in its
//! own [`WorkerMessage::Output`] frame as the command completes, then a
//! [`WorkerMessage::Finished`] frame whose record carries no outputs. The device session caps
//! one command's output well below the frame cap, so no single frame has to hold a whole
//! device's worth of text.
//!
//! Conversation: the coordinator sends `Hello`; the worker answers `Ready` (or exits if the
//! versions differ); then for each `Run` the worker sends `Stage`* `Output`* `Finished`. EOF
//! on the worker's stdin means "no more jobs".

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{CommandOutput, DeviceRecord, Job, JobId, Stage};

/// The largest frame either side accepts: 64 MiB.
pub const MAX_FRAME_LEN: usize = 64 * 1024 * 1024;

/// Coordinator → worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CoordinatorMessage {
    /// First frame on a new worker's stdin.
    Hello {
        /// The coordinator's [`crate::PROTOCOL_VERSION`].
        protocol_version: u32,
    },
    /// Run one device. Credentials travel only here, never in argv or the environment.
    Run {
        /// The job.
        job: Box<Job>,
    },
}

/// Worker → coordinator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WorkerMessage {
    /// Answer to `Hello`.
    Ready {
        /// The worker's [`crate::PROTOCOL_VERSION`].
        protocol_version: u32,
        /// The worker's process id.
        pid: u32,
    },
    /// The job entered a new stage (what a timeout or crash will be blamed on).
    Stage {
        /// Which job.
        job: JobId,
        /// The stage entered.
        stage: Stage,
    },
    /// One command's output, complete or partial.
    Output {
        /// Which job.
        job: JobId,
        /// The output (boxed: far larger than the other messages).
        output: Box<CommandOutput>,
    },
    /// The job is done; `record.outputs` is empty (they came in `Output` frames).
    Finished {
        /// Which job.
        job: JobId,
        /// The result, without outputs.
        record: Box<DeviceRecord>,
    },
}

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The pipe failed.
    #[error("frame i/o failed")]
    Io(#[from] io::Error),
    /// The length prefix announced more than [`MAX_FRAME_LEN`].
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// Announced or attempted length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The stream ended inside a frame.
    #[error("stream ended {got} bytes into a {expected}-byte frame")]
    Truncated {
        /// Bytes of the frame (prefix included) that arrived.
        got: usize,
        /// Bytes the frame should have had.
        expected: usize,
    },
    /// The frame's bytes are not the JSON of a known message.
    #[error("malformed frame")]
    Malformed(#[source] serde_json::Error),
}

/// Writes one frame and flushes it.
pub fn write_frame<W: Write, T: Serialize>(w: &mut W, message: &T) -> Result<(), FrameError> {
    encode_frame(w, message)?;
    w.flush()?;
    Ok(())
}

/// Writes one frame without flushing: into a buffer, to go out with a later frame.
pub fn encode_frame<W: Write, T: Serialize>(w: &mut W, message: &T) -> Result<(), FrameError> {
    let body = serde_json::to_vec(message).map_err(FrameError::Malformed)?;
    if body.len() > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge {
            len: body.len(),
            max: MAX_FRAME_LEN,
        });
    }
    let len = u32::try_from(body.len()).expect("MAX_FRAME_LEN fits in u32");
    w.write_all(&len.to_be_bytes())?;
    w.write_all(&body)?;
    Ok(())
}

/// Reads one frame. `Ok(None)` is a clean end of stream between frames.
pub fn read_frame<R: Read, T: DeserializeOwned>(r: &mut R) -> Result<Option<T>, FrameError> {
    let mut prefix = [0u8; 4];
    let got = read_full(r, &mut prefix)?;
    if got == 0 {
        return Ok(None);
    }
    if got < prefix.len() {
        return Err(FrameError::Truncated {
            got,
            expected: prefix.len(),
        });
    }
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge {
            len,
            max: MAX_FRAME_LEN,
        });
    }
    let mut body = vec![0u8; len];
    let got = read_full(r, &mut body)?;
    if got < len {
        return Err(FrameError::Truncated {
            got: got + prefix.len(),
            expected: len + prefix.len(),
        });
    }
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(FrameError::Malformed)
}

/// Like `read_exact`, but says how much arrived before EOF instead of failing.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_back_to_back() {
        let mut buf = Vec::new();
        let a = WorkerMessage::Ready {
            protocol_version: 1,
            pid: 42,
        };
        let b = WorkerMessage::Stage {
            job: 7,
            stage: Stage::Auth,
        };
        write_frame(&mut buf, &a).unwrap();
        write_frame(&mut buf, &b).unwrap();
        let mut r = &buf[..];
        assert_eq!(read_frame::<_, WorkerMessage>(&mut r).unwrap(), Some(a));
        assert_eq!(read_frame::<_, WorkerMessage>(&mut r).unwrap(), Some(b));
        assert_eq!(read_frame::<_, WorkerMessage>(&mut r).unwrap(), None);
    }

    #[test]
    fn garbage_is_a_typed_error_not_an_allocation() {
        let mut r: &[u8] = b"Segmentation fault (core dumped)\n";
        match read_frame::<_, WorkerMessage>(&mut r) {
            Err(FrameError::TooLarge { len, .. }) => assert!(len > MAX_FRAME_LEN),
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }

    #[test]
    fn a_short_body_is_truncated() {
        let mut buf = Vec::new();
        write_frame(
            &mut buf,
            &CoordinatorMessage::Hello {
                protocol_version: 1,
            },
        )
        .unwrap();
        buf.truncate(buf.len() - 3);
        assert!(matches!(
            read_frame::<_, CoordinatorMessage>(&mut &buf[..]),
            Err(FrameError::Truncated { .. })
        ));
    }

    #[test]
    fn valid_length_with_bad_json_is_malformed() {
        let mut buf = 5u32.to_be_bytes().to_vec();
        buf.extend_from_slice(b"{oops");
        assert!(matches!(
            read_frame::<_, WorkerMessage>(&mut &buf[..]),
            Err(FrameError::Malformed(_))
        ));
    }

    #[test]
    fn a_megabyte_output_fits_in_one_frame() {
        let output = CommandOutput {
            command: "show running-config".into(),
            output: "interface GigabitEthernet0/1\r\n".repeat(80_000),
            ..Default::default()
        };
        let msg = WorkerMessage::Output {
            job: 1,
            output: Box::new(output),
        };
        let mut buf = Vec::new();
        write_frame(&mut buf, &msg).unwrap();
        assert!(buf.len() > 2_000_000);
        let back: WorkerMessage = read_frame(&mut &buf[..]).unwrap().unwrap();
        assert_eq!(back, msg);
    }
}
