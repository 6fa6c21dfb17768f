//! Bytes from a client before startup completes: `read_startup` until the
//! stream ends or fails. Decoded packets must encode back to the same bytes
//! (protocol 3.0 StartupMessages, SSL/GSSENC and cancel requests), and
//! `negotiate` must leave no `_pq_.` option among the parameters.
#![no_main]

use bytes::BytesMut;
use gatehouse_fuzz::block_on;
use gatehouse_fuzz::wire::startup::{
    StartupPacket, encode_cancel, encode_gssenc_request, encode_ssl_request, encode_startup,
    negotiate, read_startup,
};
use gatehouse_fuzz::wire::tags::startup::PROTOCOL_3_0;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut reader = data;
    let mut buf = BytesMut::new();
    let mut consumed = 0;
    while let Ok(Some(packet)) = block_on(read_startup(&mut reader, &mut buf)) {
        let end = data.len() - reader.len() - buf.len();
        let original = &data[consumed..end];
        consumed = end;
        let mut out = BytesMut::new();
        match &packet {
            StartupPacket::Startup { version, params } => {
                if *version == PROTOCOL_3_0 {
                    let pairs: Vec<(&str, &str)> = params
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.as_str()))
                        .collect();
                    encode_startup(&mut out, &pairs).expect("a decoded startup re-encodes");
                    assert_eq!(&out[..], original);
                }
                let mut params = params.clone();
                let _ = negotiate(*version, &mut params);
                assert!(params.iter().all(|(n, _)| !n.starts_with("_pq_.")));
            }
            StartupPacket::SslRequest => encode_ssl_request(&mut out),
            StartupPacket::GssEncRequest => encode_gssenc_request(&mut out),
            StartupPacket::Cancel {
                process_id,
                secret_key,
            } => encode_cancel(&mut out, *process_id, *secret_key),
        }
        if !matches!(packet, StartupPacket::Startup { .. }) {
            assert_eq!(&out[..], original);
        }
    }
});
