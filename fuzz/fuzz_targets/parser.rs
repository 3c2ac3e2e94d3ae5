//! Fuzzes the request parser: any byte stream, delivered in arbitrary chunks, must parse to the
//! same commands as when delivered at once, never panic, and never report spans outside the
//! buffer or allocate from a declared length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use resp::{Limits, Parsed, Parser};

/// Parses `input` delivered in chunks of the given sizes; returns the commands and whether a
/// protocol error ended the stream.
fn run(input: &[u8], chunks: &[usize]) -> (Vec<Vec<Vec<u8>>>, bool) {
    let limits = Limits { max_bulk_len: 1 << 20, max_multibulk_len: 1 << 16, unauthenticated: input.len() % 2 == 0 };
    let mut parser = Parser::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut out = Vec::new();
    let mut sizes = chunks.iter().copied().cycle();
    loop {
        match parser.parse(&buf, limits) {
            Ok(Some(Parsed::Multibulk { consumed })) => {
                assert!(consumed <= buf.len());
                let args = parser.spans().iter().map(|&(s, e)| {
                    assert!(s <= e && e <= consumed);
                    buf[s..e].to_vec()
                });
                out.push(args.collect());
                buf.drain(..consumed);
            }
            Ok(Some(Parsed::Inline { consumed, args })) => {
                assert!(consumed <= buf.len() && !args.is_empty());
                out.push(args);
                buf.drain(..consumed);
            }
            Ok(Some(Parsed::Empty { consumed })) => {
                assert!(consumed > 0 && consumed <= buf.len());
                buf.drain(..consumed);
            }
            Ok(None) => {
                if fed == input.len() {
                    return (out, false);
                }
                let n = sizes.next().unwrap_or(input.len()).max(1).min(input.len() - fed);
                buf.extend_from_slice(&input[fed..fed + n]);
                fed += n;
            }
            Err(_) => return (out, true),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    // The first byte picks chunk sizes; the rest is the stream.
    let (seed, input) = (data[0], &data[1..]);
    let whole = run(input, &[input.len().max(1)]);
    let split = run(input, &[1 + (seed as usize % 7), 1 + (seed as usize % 3)]);
    assert_eq!(whole, split, "chunking changed the parse");
    let _ = resp::split_args(input);
});
