//! Bytes from a client after startup: framing (`read_message`, with a small
//! limit so the too-large path is reached) then `FrontendMessage::decode` of
//! every message, and the `'p'` body parsers. Whatever decodes must encode
//! back to the same bytes (CopyFail text, decoded leniently, only to the same
//! message).
#![no_main]

use bytes::BytesMut;
use gatehouse_fuzz::block_on;
use gatehouse_fuzz::wire::frontend::auth::{parse_password, parse_sasl_initial_response};
use gatehouse_fuzz::wire::{FrontendMessage, RawMessage, read_message, split_message};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    // The async reader and the synchronous splitter must agree.
    let mut reader = data;
    let mut buf = BytesMut::new();
    let mut read = Vec::new();
    let read_end = loop {
        match block_on(read_message(&mut reader, &mut buf, LIMIT)) {
            Ok(Some(raw)) => read.push(raw),
            Ok(None) => break Ok(()),
            Err(e) => break Err(e.to_string()),
        }
    };
    let mut whole = BytesMut::from(data);
    let mut split = Vec::new();
    while let Ok(Some(raw)) = split_message(&mut whole, LIMIT) {
        split.push(raw);
    }
    assert_eq!(read, split);
    if read_end.is_ok() {
        assert!(whole.is_empty());
    }

    for raw in &read {
        check(raw);
    }
});

fn check(raw: &RawMessage) {
    let Ok(message) = FrontendMessage::decode(raw) else {
        return;
    };
    let _ = message.name();
    let mut out = BytesMut::new();
    message
        .encode(&mut out)
        .expect("a decoded message re-encodes");
    let again = split_message(&mut out, usize::MAX).unwrap().unwrap();
    assert!(out.is_empty());
    let decoded = FrontendMessage::decode(&again).expect("a re-encoded message decodes");
    assert_eq!(decoded, message);
    if !matches!(message, FrontendMessage::CopyFail { .. }) {
        assert_eq!(again, *raw);
    }
    if let FrontendMessage::PasswordMessage(body) = &message {
        let _ = parse_password(body);
        let _ = parse_sasl_initial_response(body);
    }
}
