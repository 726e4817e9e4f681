//! Property tests of the frame decoder, the one reader of a worker's untrusted bytes: any
//! bytes, arriving in any split, give frames, a clean end or a typed error — never a panic,
//! and never an allocation beyond the frame limit, whatever a length prefix announces.
//!
//! The largest single allocation is measured for real by this test binary's global allocator,
//! per thread, so other tests running at the same time do not count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{self, Read};

use netsweep_protocol::frame::{MAX_FRAME_LEN, encode_frame, read_frame};
use netsweep_protocol::{CommandOutput, FrameError, Stage, WorkerMessage};
use proptest::prelude::*;

/// The system allocator, noting the largest request made by the current thread.
struct LargestRequest;

thread_local! {
    // `const` and without a destructor: reading it never allocates, so the allocator may.
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
}

/// The largest single allocation `f` made on this thread.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|largest| largest.set(0));
    let value = f();
    (value, LARGEST.with(Cell::get))
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds `GlobalAlloc`'s
// contract; noting a size touches only a thread-local `Cell` and allocates nothing.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for LargestRequest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's layout, passed on as received.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: `ptr` and `layout` come from this allocator, that is from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: LargestRequest = LargestRequest;

/// A pipe that hands out its bytes in the chunk sizes given, as a real pipe may.
struct Chunked<'a> {
    bytes: &'a [u8],
    chunks: std::iter::Cycle<std::vec::IntoIter<usize>>,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let chunk = self.chunks.next().unwrap_or(1);
        let n = chunk.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

fn message() -> impl Strategy<Value = WorkerMessage> {
    prop_oneof![
        (any::<u32>(), any::<u32>()).prop_map(|(protocol_version, pid)| WorkerMessage::Ready {
            protocol_version,
            pid
        }),
        (any::<u64>(), prop::sample::select(Stage::ALL.to_vec()))
            .prop_map(|(job, stage)| WorkerMessage::Stage { job, stage }),
        (any::<u64>(), ".{0,40}", ".{0,400}").prop_map(|(job, command, output)| {
            WorkerMessage::Output {
                job,
                output: Box::new(CommandOutput {
                    command,
                    output,
                    ..Default::default()
                }),
            }
        }),
    ]
}

/// What can follow the good frames on a worker's stdout.
#[derive(Debug, Clone)]
enum Tail {
    Nothing,
    /// A crash message, a stray `println!`: any bytes.
    Garbage(Vec<u8>),
    /// A length prefix of any value, then some bytes.
    Announced(u32, Vec<u8>),
    /// A good frame cut somewhere inside (never at 0, which is just no frame).
    Cut(WorkerMessage, prop::sample::Index),
}

fn tail() -> impl Strategy<Value = Tail> {
    prop_oneof![
        Just(Tail::Nothing),
        prop::collection::vec(any::<u8>(), 1..200).prop_map(Tail::Garbage),
        (any::<u32>(), prop::collection::vec(any::<u8>(), 0..200))
            .prop_map(|(len, bytes)| Tail::Announced(len, bytes)),
        (message(), any::<prop::sample::Index>()).prop_map(|(m, at)| Tail::Cut(m, at)),
    ]
}

fn encoded(message: &WorkerMessage) -> Vec<u8> {
    let mut bytes = Vec::new();
    encode_frame(&mut bytes, message).expect("encode");
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes_in_any_split_decode_or_fail_cleanly(
        good in prop::collection::vec(message(), 0..6),
        tail in tail(),
        chunks in prop::collection::vec(1usize..64, 1..16),
    ) {
        let mut stream = Vec::new();
        for m in &good {
            stream.extend(encoded(m));
        }
        match &tail {
            Tail::Nothing => {}
            Tail::Garbage(bytes) => stream.extend(bytes),
            Tail::Announced(len, bytes) => {
                stream.extend(len.to_be_bytes());
                stream.extend(bytes);
            }
            Tail::Cut(m, at) => {
                let frame = encoded(m);
                stream.extend(&frame[..1 + at.index(frame.len() - 1)]);
            }
        }
        let mut pipe = Chunked { bytes: &stream, chunks: chunks.into_iter().cycle() };
        let mut decoded = Vec::new();
        let end = loop {
            let (result, largest) =
                largest_allocation(|| read_frame::<_, WorkerMessage>(&mut pipe));
            prop_assert!(
                largest <= MAX_FRAME_LEN,
                "one allocation of {largest} bytes, beyond the {MAX_FRAME_LEN}-byte frame limit"
            );
            match result {
                Ok(Some(m)) => decoded.push(m),
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        // The good frames always arrive whole and in order, whatever the split.
        prop_assert!(decoded.len() >= good.len());
        prop_assert_eq!(&decoded[..good.len()], &good[..]);
        match (&tail, end) {
            (Tail::Nothing, end) => {
                prop_assert_eq!(decoded.len(), good.len());
                prop_assert!(end.is_none(), "error after good frames: {:?}", end);
            }
            (Tail::Cut(..), end) => {
                prop_assert_eq!(decoded.len(), good.len());
                prop_assert!(matches!(end, Some(FrameError::Truncated { .. })), "{:?}", end);
            }
            (Tail::Announced(len, _), end) if *len as usize > MAX_FRAME_LEN => {
                prop_assert_eq!(decoded.len(), good.len());
                let refused = matches!(
                    end,
                    Some(FrameError::TooLarge { len: said, max: MAX_FRAME_LEN })
                        if said == *len as usize
                );
                prop_assert!(refused, "{:?}", end);
            }
            // Other bytes may by chance hold a valid frame; whatever they are, reading ended
            // with a clean end or a typed error, and nothing panicked.
            (_, _) => {}
        }
    }
}

#[test]
fn the_largest_announced_frame_is_refused_without_allocating_it() {
    let prefix = u32::MAX.to_be_bytes();
    let (result, largest) = largest_allocation(|| read_frame::<_, WorkerMessage>(&mut &prefix[..]));
    assert!(
        matches!(result, Err(FrameError::TooLarge { .. })),
        "{result:?}"
    );
    assert!(largest < 1024, "{largest}");
}
