//! Bytes from a server: framing then `BackendMessage::decode` of every
//! message; DataRows are walked and copied into a row batch, which must
//! encode back to the same row. Decoded messages must re-encode to the same
//! bytes (error and notice text, decoded leniently, only to the same message).
#![no_main]

use bytes::BytesMut;
use gatehouse_fuzz::wire::backend::encode_batch;
use gatehouse_fuzz::wire::startup::ProtocolNegotiation;
use gatehouse_fuzz::wire::{BackendMessage, split_message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    while let Ok(Some(raw)) = split_message(&mut buf, 1 << 16) {
        let Ok(message) = BackendMessage::decode(&raw) else {
            continue;
        };
        let mut out = BytesMut::new();
        message.encode(&mut out);
        let again = split_message(&mut out, usize::MAX).unwrap().unwrap();
        assert_eq!(BackendMessage::decode(&again).unwrap(), message);
        if !matches!(
            message,
            BackendMessage::ErrorResponse(_) | BackendMessage::NoticeResponse(_)
        ) {
            assert_eq!(again, raw);
        }
        match &message {
            BackendMessage::DataRow(row) => {
                let mut data = Vec::new();
                let mut lengths = Vec::new();
                row.append_to_batch(&mut data, &mut lengths);
                assert_eq!(lengths.len(), row.columns());
                let mut out = BytesMut::new();
                encode_batch(&mut out, row.columns() as u32, 1, &data, &lengths).unwrap();
                let back = split_message(&mut out, usize::MAX).unwrap().unwrap();
                assert_eq!(back, raw);
                assert_eq!(row.cell_bytes().count(), row.columns());
            }
            BackendMessage::NegotiateProtocolVersion(body) => {
                let _ = ProtocolNegotiation::decode(body);
            }
            _ => {}
        }
    }
});
