//! An authority's event stream (Server-Sent Events) as a verifier reads it: cut into chunks
//! anywhere, it yields the same events as read whole, and status pushes parse or are
//! dropped.
#![no_main]

use eid_verifier::push::{EventStream, StatusPush};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, stream)) = data.split_first() else {
        return;
    };
    let whole = EventStream::new().feed(stream);
    let mut chunked = EventStream::new();
    let pieces: Vec<_> = stream
        .chunks(usize::from(first).max(1))
        .flat_map(|chunk| chunked.feed(chunk))
        .collect();
    assert_eq!(whole, pieces);
    for event in &whole {
        let _ = StatusPush::from_event(event);
    }
});
