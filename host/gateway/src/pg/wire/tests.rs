//! Tests of the codec: round trips of every message, malformed input
//! (truncation, bad lengths and counts, unknown tags), startup variants,
//! DataRow cells and row batches, and a cross-check against a real
//! PostgreSQL on 127.0.0.1:5432 (skipped when none answers).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, ReadBuf};

use super::backend::{encode, encode_batch};
use super::frontend::auth::{
    SaslInitialResponse, encode_password, encode_sasl_initial_response, encode_sasl_response,
    parse_password, parse_sasl_initial_response,
};
use super::startup::{MAX_STARTUP_LEN, decode_startup, encode_gssenc_request, split_startup};
use super::tags;
use super::*;

const MAX: usize = DEFAULT_MAX_MESSAGE_LEN;

/// Runs a future that never waits (in-memory readers are always ready).
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("an in-memory read never waits"),
    }
}

/// A reader handing out one byte per read, to exercise reassembly.
struct Trickle<'a>(&'a [u8]);

impl AsyncRead for Trickle<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if let Some((first, rest)) = self.0.split_first() {
            buf.put_slice(&[*first]);
            self.0 = rest;
        }
        Poll::Ready(Ok(()))
    }
}

fn read_all_messages(bytes: &[u8]) -> Result<Vec<RawMessage>, WireError> {
    let mut reader = bytes;
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    while let Some(m) = block_on(read_message(&mut reader, &mut buf, MAX))? {
        out.push(m);
    }
    Ok(out)
}

fn one_frame(out: &mut BytesMut) -> RawMessage {
    let raw = split_message(out, MAX).unwrap().expect("a whole message");
    assert!(out.is_empty(), "exactly one message was written");
    raw
}

fn frontend_raw(msg: &FrontendMessage) -> RawMessage {
    let mut out = BytesMut::new();
    msg.encode(&mut out).unwrap();
    one_frame(&mut out)
}

fn backend_raw(msg: &BackendMessage) -> RawMessage {
    let mut out = BytesMut::new();
    msg.encode(&mut out);
    one_frame(&mut out)
}

/// Every proper prefix of the body must fail to decode, never panic.
fn assert_prefixes_fail<T: std::fmt::Debug>(
    raw: &RawMessage,
    decode: impl Fn(&RawMessage) -> Result<T, WireError>,
) {
    for cut in 0..raw.body.len() {
        let short = RawMessage::new(raw.tag, raw.body.slice(..cut));
        assert!(decode(&short).is_err(), "prefix {cut} of {:?} decoded", raw);
    }
}

fn sample_frontend() -> Vec<FrontendMessage> {
    vec![
        FrontendMessage::Query {
            sql: "select 1; select 'é'".into(),
        },
        FrontendMessage::Query { sql: String::new() },
        FrontendMessage::Parse {
            statement: "s1".into(),
            sql: "select $1::int4, $2".into(),
            param_types: vec![23, 0],
        },
        FrontendMessage::Parse {
            statement: String::new(),
            sql: "select 1".into(),
            param_types: vec![],
        },
        FrontendMessage::Bind {
            portal: "p".into(),
            statement: "s1".into(),
            param_formats: vec![0, 1],
            params: vec![Some(Bytes::from_static(b"42")), None, Some(Bytes::new())],
            result_formats: vec![1],
        },
        FrontendMessage::Bind {
            portal: String::new(),
            statement: String::new(),
            param_formats: vec![],
            params: vec![],
            result_formats: vec![],
        },
        FrontendMessage::Describe {
            target: Target::Statement,
            name: "s1".into(),
        },
        FrontendMessage::Describe {
            target: Target::Portal,
            name: String::new(),
        },
        FrontendMessage::Execute {
            portal: "p".into(),
            max_rows: 100,
        },
        FrontendMessage::Close {
            target: Target::Portal,
            name: "p".into(),
        },
        FrontendMessage::Close {
            target: Target::Statement,
            name: "s1".into(),
        },
        FrontendMessage::Sync,
        FrontendMessage::Flush,
        FrontendMessage::Terminate,
        FrontendMessage::CopyData(Bytes::from_static(b"1\t2\n")),
        FrontendMessage::CopyData(Bytes::new()),
        FrontendMessage::CopyDone,
        FrontendMessage::CopyFail {
            message: "client gave up".into(),
        },
        FrontendMessage::PasswordMessage(Bytes::from_static(b"secret\0")),
        FrontendMessage::FunctionCall(Bytes::from_static(&[0, 0, 4, 0, 0, 0])),
    ]
}

fn sample_backend() -> Vec<BackendMessage> {
    vec![
        BackendMessage::Authentication(Authentication::Ok),
        BackendMessage::Authentication(Authentication::CleartextPassword),
        BackendMessage::Authentication(Authentication::Md5Password { salt: [1, 2, 3, 4] }),
        BackendMessage::Authentication(Authentication::Sasl {
            mechanisms: vec!["SCRAM-SHA-256-PLUS".into(), "SCRAM-SHA-256".into()],
        }),
        BackendMessage::Authentication(Authentication::SaslContinue(Bytes::from_static(
            b"r=abc,s=xyz,i=4096",
        ))),
        BackendMessage::Authentication(Authentication::SaslFinal(Bytes::from_static(b"v=sig"))),
        BackendMessage::Authentication(Authentication::Other {
            code: tags::auth::GSS,
            data: Bytes::new(),
        }),
        BackendMessage::Authentication(Authentication::Other {
            code: tags::auth::GSS_CONTINUE,
            data: Bytes::from_static(b"token"),
        }),
        BackendMessage::ParameterStatus {
            name: "server_version".into(),
            value: "15.20".into(),
        },
        BackendMessage::BackendKeyData {
            process_id: 4242,
            secret_key: -7,
        },
        BackendMessage::ReadyForQuery {
            status: TransactionStatus::Idle,
        },
        BackendMessage::ReadyForQuery {
            status: TransactionStatus::InTransaction,
        },
        BackendMessage::ReadyForQuery {
            status: TransactionStatus::Failed,
        },
        BackendMessage::RowDescription(vec![
            FieldDescription {
                name: "a".into(),
                table_oid: 0,
                column_id: 0,
                type_oid: 23,
                type_size: 4,
                type_modifier: -1,
                format: 0,
            },
            FieldDescription {
                name: "email".into(),
                table_oid: 16384,
                column_id: 3,
                type_oid: 25,
                type_size: -1,
                type_modifier: -1,
                format: 1,
            },
        ]),
        BackendMessage::RowDescription(vec![]),
        BackendMessage::DataRow(DataRow::from_cells(&[Some(b"1"), None, Some(b"")])),
        BackendMessage::DataRow(DataRow::from_cells(&[])),
        BackendMessage::CommandComplete {
            tag: "SELECT 1".into(),
        },
        BackendMessage::EmptyQueryResponse,
        BackendMessage::ErrorResponse(
            ErrorFields::new(Severity::Error, "42501", "permission denied")
                .with_detail("detail")
                .with_hint("hint"),
        ),
        BackendMessage::NoticeResponse(ErrorFields::new(Severity::Notice, "00000", "hello")),
        BackendMessage::ParseComplete,
        BackendMessage::BindComplete,
        BackendMessage::CloseComplete,
        BackendMessage::NoData,
        BackendMessage::ParameterDescription(vec![23, 25]),
        BackendMessage::ParameterDescription(vec![]),
        BackendMessage::PortalSuspended,
        BackendMessage::CopyInResponse(Bytes::from_static(&[0, 0, 1, 0, 0])),
        BackendMessage::CopyOutResponse(Bytes::from_static(&[0, 0, 1, 0, 0])),
        BackendMessage::CopyBothResponse(Bytes::from_static(&[0, 0, 0])),
        BackendMessage::CopyData(Bytes::from_static(b"1\n")),
        BackendMessage::CopyDone,
        BackendMessage::NotificationResponse(Bytes::from_static(b"\0\0\0\x01chan\0payload\0")),
        BackendMessage::NegotiateProtocolVersion(Bytes::from_static(b"\0\0\0\0\0\0\0\0")),
        BackendMessage::FunctionCallResponse(Bytes::from_static(&[0xff, 0xff, 0xff, 0xff])),
    ]
}

// ---------------------------------------------------------------- framing

#[test]
fn framing_round_trip_and_reassembly() {
    let mut out = BytesMut::new();
    write_message(&mut out, b'Q', b"select 1\0");
    write_message(&mut out, b'S', b"");
    write_message(&mut out, b'd', &[7u8; 70_000]);
    let all = out.clone().freeze();

    let messages = read_all_messages(&all).unwrap();
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[0], RawMessage::new(b'Q', &b"select 1\0"[..]));
    assert_eq!(messages[1], RawMessage::new(b'S', Bytes::new()));
    assert_eq!(messages[2].body.len(), 70_000);

    // One byte at a time gives the same messages.
    let mut reader = Trickle(&all);
    let mut buf = BytesMut::new();
    let mut trickled = Vec::new();
    while let Some(m) = block_on(read_message(&mut reader, &mut buf, MAX)).unwrap() {
        trickled.push(m);
    }
    assert_eq!(trickled, messages);

    // RawMessage::encode writes back the same bytes.
    let mut again = BytesMut::new();
    for m in &messages {
        m.encode(&mut again);
    }
    assert_eq!(again.freeze(), all);
}

#[test]
fn framing_clean_eof_and_eof_mid_message() {
    assert!(read_all_messages(b"").unwrap().is_empty());

    let err = read_all_messages(b"Q\0\0").unwrap_err();
    assert!(
        matches!(
            err,
            WireError::UnexpectedEof {
                got: 3,
                expected: 5
            }
        ),
        "{err}"
    );

    let err = read_all_messages(b"Q\0\0\0\x0cselect").unwrap_err();
    assert!(
        matches!(
            err,
            WireError::UnexpectedEof {
                got: 11,
                expected: 13
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "connection closed in the middle of a message (11 of 13 bytes received)"
    );
}

#[test]
fn framing_rejects_bad_lengths() {
    for length in [i32::MIN, -1, 0, 3] {
        let mut bytes = vec![b'Q'];
        bytes.extend_from_slice(&length.to_be_bytes());
        let err = read_all_messages(&bytes).unwrap_err();
        assert!(
            matches!(err, WireError::LengthTooShort(l) if l == length),
            "{err}"
        );
    }
    let mut bytes = vec![b'Q'];
    bytes.extend_from_slice(&i32::MAX.to_be_bytes());
    let err = read_all_messages(&bytes).unwrap_err();
    assert_eq!(
        err.to_string(),
        "message of 2147483647 bytes exceeds the 67108864-byte limit"
    );

    // The limit is on the declared length, which counts its own 4 bytes.
    let mut out = BytesMut::new();
    write_message(&mut out, b'd', &[0; 96]);
    let mut buf = out.clone();
    assert!(split_message(&mut buf, 100).unwrap().is_some());
    let mut buf = out;
    assert!(matches!(
        split_message(&mut buf, 99),
        Err(WireError::TooLarge {
            length: 100,
            max: 99
        })
    ));
}

#[test]
fn framing_does_not_reserve_what_was_not_sent() {
    // A header announcing 60 MiB, then the stream ends.
    let mut bytes = vec![b'd'];
    bytes.extend_from_slice(&(60i32 << 20).to_be_bytes());
    bytes.extend_from_slice(b"abc");
    let mut reader = &bytes[..];
    let mut buf = BytesMut::new();
    let err = block_on(read_message(&mut reader, &mut buf, MAX)).unwrap_err();
    assert!(
        matches!(err, WireError::UnexpectedEof { got: 8, .. }),
        "{err}"
    );
    assert!(
        buf.capacity() <= 2 * framing::READ_CHUNK,
        "reserved {}",
        buf.capacity()
    );
}

#[test]
fn framing_leaves_following_bytes_and_is_zero_copy() {
    let mut out = BytesMut::new();
    write_message(&mut out, b'D', b"abc");
    out.put_slice(b"Z\0\0");
    let base = out.as_ptr() as usize;
    let raw = split_message(&mut out, MAX).unwrap().unwrap();
    assert_eq!(&out[..], b"Z\0\0");
    assert_eq!(
        raw.body.as_ptr() as usize,
        base + 5,
        "the body is a slice of the read buffer"
    );
    assert!(split_message(&mut out, MAX).unwrap().is_none());
}

// ---------------------------------------------------------------- startup

fn read_startup_bytes(bytes: &[u8]) -> Result<Option<StartupPacket>, WireError> {
    let mut reader = bytes;
    let mut buf = BytesMut::new();
    block_on(read_startup(&mut reader, &mut buf))
}

fn startup_with(version: u32, params: &[(&str, &str)]) -> Vec<u8> {
    let mut body = version.to_be_bytes().to_vec();
    for (n, v) in params {
        body.extend_from_slice(n.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut packet = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    packet.extend_from_slice(&body);
    packet
}

#[test]
fn startup_round_trips() {
    let mut out = BytesMut::new();
    encode_startup(
        &mut out,
        &[
            ("user", "alice"),
            ("database", "orders"),
            ("application_name", "psql"),
        ],
    )
    .unwrap();
    let packet = read_startup_bytes(&out).unwrap().unwrap();
    assert_eq!(
        packet,
        StartupPacket::Startup {
            version: tags::startup::PROTOCOL_3_0,
            params: vec![
                ("user".into(), "alice".into()),
                ("database".into(), "orders".into()),
                ("application_name".into(), "psql".into()),
            ],
        }
    );
    assert_eq!(packet.param("database"), Some("orders"));
    assert_eq!(packet.param("options"), None);

    let mut out = BytesMut::new();
    encode_ssl_request(&mut out);
    assert_eq!(&out[..], &[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
    assert_eq!(
        read_startup_bytes(&out).unwrap(),
        Some(StartupPacket::SslRequest)
    );

    let mut out = BytesMut::new();
    encode_gssenc_request(&mut out);
    assert_eq!(
        read_startup_bytes(&out).unwrap(),
        Some(StartupPacket::GssEncRequest)
    );

    let mut out = BytesMut::new();
    encode_cancel(&mut out, 1234, -99);
    assert_eq!(
        read_startup_bytes(&out).unwrap(),
        Some(StartupPacket::Cancel {
            process_id: 1234,
            secret_key: -99
        })
    );

    // Startup with no parameters at all.
    let packet = startup_with(tags::startup::PROTOCOL_3_0, &[]);
    assert!(
        matches!(read_startup_bytes(&packet).unwrap(), Some(StartupPacket::Startup { params, .. }) if params.is_empty())
    );
}

#[test]
fn startup_leaves_pipelined_bytes_in_the_buffer() {
    let mut out = BytesMut::new();
    encode_ssl_request(&mut out);
    out.put_slice(b"\x16\x03\x01"); // a TLS ClientHello sent too early
    // Both arrived in one read: the packet is taken, the rest stays.
    let mut reader: &[u8] = &[];
    let mut buf = out;
    let packet = block_on(read_startup(&mut reader, &mut buf)).unwrap();
    assert_eq!(packet, Some(StartupPacket::SslRequest));
    assert_eq!(
        &buf[..],
        b"\x16\x03\x01",
        "the caller must see bytes sent ahead of TLS"
    );
}

#[test]
fn startup_byte_at_a_time() {
    let mut out = BytesMut::new();
    encode_startup(&mut out, &[("user", "u")]).unwrap();
    let mut reader = Trickle(&out);
    let mut buf = BytesMut::new();
    let packet = block_on(read_startup(&mut reader, &mut buf))
        .unwrap()
        .unwrap();
    assert_eq!(packet.param("user"), Some("u"));
}

#[test]
fn startup_protocol_versions() {
    // 3.2 with protocol options: accepted, then negotiated down to 3.0.
    let packet = startup_with(3 << 16 | 2, &[("user", "u"), ("_pq_.compression", "on")]);
    let Some(StartupPacket::Startup {
        version,
        mut params,
    }) = read_startup_bytes(&packet).unwrap()
    else {
        panic!("a 3.2 startup is a startup");
    };
    assert_eq!(version, 0x0003_0002);
    let negotiation = negotiate(version, &mut params).expect("3.2 is negotiated");
    assert_eq!(negotiation.newest_version, 0x0003_0000);
    assert_eq!(
        negotiation.unrecognized_options,
        vec!["_pq_.compression".to_string()]
    );
    assert_eq!(
        params,
        vec![("user".to_string(), "u".to_string())],
        "protocol options are not settings"
    );

    let mut out = BytesMut::new();
    negotiation.encode(&mut out);
    let raw = one_frame(&mut out);
    assert_eq!(raw.tag, tags::backend::NEGOTIATE_PROTOCOL_VERSION);
    assert_eq!(ProtocolNegotiation::decode(&raw.body).unwrap(), negotiation);

    // 3.0 needs nothing; 3.0 with an option needs negotiation.
    let mut params = vec![("user".to_string(), "u".to_string())];
    assert_eq!(negotiate(tags::startup::PROTOCOL_3_0, &mut params), None);
    params.push(("_pq_.x".into(), "1".into()));
    assert!(negotiate(tags::startup::PROTOCOL_3_0, &mut params).is_some());

    // Other majors are refused with a clear message and SQLSTATE.
    let err = read_startup_bytes(&startup_with(2 << 16, &[("user", "u")])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unsupported frontend protocol 2.0: the gateway supports 3.0"
    );
    assert_eq!(err.to_error_response().code(), Some("0A000"));
    assert_eq!(err.to_error_response().severity(), Some("FATAL"));
    let err = read_startup_bytes(&startup_with(1234 << 16 | 5681, &[])).unwrap_err();
    assert!(
        matches!(
            err,
            WireError::UnsupportedProtocol {
                major: 1234,
                minor: 5681
            }
        ),
        "{err}"
    );
}

#[test]
fn startup_rejects_malformed_packets() {
    let len = |l: i32| {
        let mut v = l.to_be_bytes().to_vec();
        v.extend_from_slice(&tags::startup::PROTOCOL_3_0.to_be_bytes());
        v
    };
    for bad in [-1, 0, 7, (MAX_STARTUP_LEN + 1) as i32, i32::MAX] {
        let err = read_startup_bytes(&len(bad)).unwrap_err();
        assert!(
            matches!(err, WireError::StartupLength { length, .. } if length == bad),
            "{err}"
        );
    }
    // Fixed-size requests with the wrong size.
    let mut ssl = 12i32.to_be_bytes().to_vec();
    ssl.extend_from_slice(&tags::startup::SSL_REQUEST.to_be_bytes());
    ssl.extend_from_slice(&[0; 4]);
    assert!(matches!(
        read_startup_bytes(&ssl),
        Err(WireError::StartupLength { length: 12, .. })
    ));
    let mut cancel = 12i32.to_be_bytes().to_vec();
    cancel.extend_from_slice(&tags::startup::CANCEL_REQUEST.to_be_bytes());
    cancel.extend_from_slice(&[0; 4]);
    assert!(matches!(
        read_startup_bytes(&cancel),
        Err(WireError::StartupLength { length: 12, .. })
    ));

    // Parameter list layout.
    let mut no_terminator = startup_with(tags::startup::PROTOCOL_3_0, &[("user", "u")]);
    no_terminator.pop();
    let n = no_terminator.len() as i32;
    no_terminator[..4].copy_from_slice(&n.to_be_bytes());
    assert!(matches!(
        read_startup_bytes(&no_terminator),
        Err(WireError::MissingNul { .. })
    ));

    let mut trailing = startup_with(tags::startup::PROTOCOL_3_0, &[("user", "u")]);
    trailing.extend_from_slice(b"x\0");
    let n = trailing.len() as i32;
    trailing[..4].copy_from_slice(&n.to_be_bytes());
    assert!(matches!(
        read_startup_bytes(&trailing),
        Err(WireError::TrailingBytes { count: 2, .. })
    ));

    let mut no_value = 0i32.to_be_bytes().to_vec();
    no_value.extend_from_slice(&tags::startup::PROTOCOL_3_0.to_be_bytes());
    no_value.extend_from_slice(b"user\0");
    let n = no_value.len() as i32;
    no_value[..4].copy_from_slice(&n.to_be_bytes());
    assert!(read_startup_bytes(&no_value).is_err());

    let bad_utf8 = startup_with(tags::startup::PROTOCOL_3_0, &[("user", "u")]);
    let mut bad_utf8 = bad_utf8.clone();
    let at = bad_utf8.iter().rposition(|&b| b == b'u').unwrap();
    bad_utf8[at] = 0xff;
    assert!(matches!(
        read_startup_bytes(&bad_utf8),
        Err(WireError::InvalidUtf8 { .. })
    ));

    // End of stream: clean before anything, an error part way.
    assert_eq!(read_startup_bytes(b"").unwrap(), None);
    assert!(matches!(
        read_startup_bytes(&[0, 0, 0, 8, 0x04]),
        Err(WireError::UnexpectedEof { .. })
    ));
    assert!(matches!(
        read_startup_bytes(&[0, 0]),
        Err(WireError::UnexpectedEof { .. })
    ));

    // Every prefix of a valid body fails to decode.
    let packet = startup_with(
        tags::startup::PROTOCOL_3_0,
        &[("user", "u"), ("database", "d")],
    );
    for cut in 4..packet.len() - 1 {
        assert!(
            decode_startup(Bytes::copy_from_slice(&packet[4..cut])).is_err(),
            "prefix {cut}"
        );
    }
    // split_startup waits for the whole packet.
    let mut buf = BytesMut::from(&packet[..packet.len() - 1]);
    assert_eq!(split_startup(&mut buf).unwrap(), None);
}

#[test]
fn encode_startup_refuses_what_would_change_the_login() {
    let mut out = BytesMut::new();
    assert!(matches!(
        encode_startup(&mut out, &[("user", "admin\0x")]),
        Err(WireError::InteriorNul { .. })
    ));
    assert!(encode_startup(&mut out, &[("", "x")]).is_err());
    let long = "x".repeat(MAX_STARTUP_LEN);
    assert!(matches!(
        encode_startup(&mut out, &[("user", &long)]),
        Err(WireError::StartupLength { .. })
    ));
    assert!(out.is_empty(), "nothing written on refusal");
}

// ---------------------------------------------------------------- frontend

#[test]
fn frontend_round_trips() {
    for msg in sample_frontend() {
        let raw = frontend_raw(&msg);
        assert_eq!(raw.tag, msg.tag(), "{}", msg.name());
        assert_eq!(FrontendMessage::decode(&raw).unwrap(), msg);
    }
}

#[test]
fn frontend_every_truncation_fails() {
    for msg in sample_frontend() {
        // Raw-bytes messages have no structure to truncate.
        if matches!(
            msg,
            FrontendMessage::CopyData(_)
                | FrontendMessage::PasswordMessage(_)
                | FrontendMessage::FunctionCall(_)
        ) {
            continue;
        }
        assert_prefixes_fail(&frontend_raw(&msg), FrontendMessage::decode);
    }
}

#[test]
fn frontend_bind_params_are_slices_of_the_body() {
    let raw = frontend_raw(&sample_frontend()[4]);
    let FrontendMessage::Bind { params, .. } = FrontendMessage::decode(&raw).unwrap() else {
        panic!()
    };
    let body = raw.body.as_ptr() as usize..raw.body.as_ptr() as usize + raw.body.len();
    let p = params[0].as_ref().unwrap();
    assert!(body.contains(&(p.as_ptr() as usize)), "zero-copy parameter");
}

#[test]
fn frontend_malformed_inputs() {
    let decode = |tag: u8, body: &[u8]| {
        FrontendMessage::decode(&RawMessage::new(tag, Bytes::copy_from_slice(body)))
    };

    let err = decode(b'z', b"").unwrap_err();
    assert_eq!(err.to_string(), "unknown frontend message tag 'z'");
    assert_eq!(
        decode(0, b"").unwrap_err().to_string(),
        "unknown frontend message tag 0x00"
    );

    // Bind claiming 32767 parameters with 4 bytes of them.
    let mut bind = b"\0\0\0\0".to_vec();
    bind.extend_from_slice(&i16::MAX.to_be_bytes());
    bind.extend_from_slice(&[0, 0, 0, 1]);
    let err = decode(b'B', &bind).unwrap_err();
    assert_eq!(err.to_string(), "truncated Bind message");

    // Negative counts.
    let mut bind = b"\0\0".to_vec();
    bind.extend_from_slice(&(-1i16).to_be_bytes());
    let err = decode(b'B', &bind).unwrap_err();
    assert!(
        matches!(
            err,
            WireError::Invalid {
                message: "Bind",
                ..
            }
        ),
        "{err}"
    );
    let mut parse = b"\0select 1\0".to_vec();
    parse.extend_from_slice(&(-5i16).to_be_bytes());
    assert!(matches!(
        decode(b'P', &parse),
        Err(WireError::Invalid { .. })
    ));

    // A parameter length below -1, and one past the end.
    let mut bind = b"\0\0\0\0\0\x01".to_vec();
    bind.extend_from_slice(&(-2i32).to_be_bytes());
    bind.extend_from_slice(&[0, 0]);
    assert!(matches!(
        decode(b'B', &bind),
        Err(WireError::Invalid { .. })
    ));
    let mut bind = b"\0\0\0\0\0\x01".to_vec();
    bind.extend_from_slice(&i32::MAX.to_be_bytes());
    bind.extend_from_slice(&[0, 0]);
    assert!(matches!(
        decode(b'B', &bind),
        Err(WireError::Truncated("Bind"))
    ));

    // Parse claiming 32767 types.
    let mut parse = b"\0select 1\0".to_vec();
    parse.extend_from_slice(&i16::MAX.to_be_bytes());
    assert!(matches!(
        decode(b'P', &parse),
        Err(WireError::Truncated("Parse"))
    ));

    // Strings.
    assert!(matches!(
        decode(b'Q', b"select 1"),
        Err(WireError::MissingNul {
            message: "Query",
            ..
        })
    ));
    assert!(matches!(
        decode(b'Q', b"select \xff\0"),
        Err(WireError::InvalidUtf8 { .. })
    ));
    assert!(matches!(
        decode(b'Q', b"select 1\0x"),
        Err(WireError::TrailingBytes {
            message: "Query",
            count: 1
        })
    ));

    // Describe/Close targets.
    let err = decode(b'D', b"X\0").unwrap_err();
    assert_eq!(
        err.to_string(),
        "Describe message: unknown target 'X' (expected 'S' or 'P')"
    );
    assert!(decode(b'C', b"").is_err());

    // Bodiless messages with a body.
    for tag in [b'S', b'H', b'X', b'c'] {
        assert!(matches!(
            decode(tag, b"x"),
            Err(WireError::TrailingBytes { count: 1, .. })
        ));
    }

    // Execute with a short row count.
    assert!(matches!(
        decode(b'E', b"\0\0\0"),
        Err(WireError::Truncated("Execute"))
    ));
}

#[test]
fn frontend_encode_refuses_interior_nul() {
    let mut out = BytesMut::from(&b"kept"[..]);
    let err = FrontendMessage::Query {
        sql: "select 1\0; drop table t".into(),
    }
    .encode(&mut out)
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Query message: query string contains a NUL byte"
    );
    assert_eq!(&out[..], b"kept", "nothing written on refusal");

    let bind = FrontendMessage::Bind {
        portal: String::new(),
        statement: "s\0".into(),
        param_formats: vec![],
        params: vec![],
        result_formats: vec![],
    };
    assert!(matches!(
        bind.encode(&mut out),
        Err(WireError::InteriorNul { .. })
    ));

    let too_many = FrontendMessage::Parse {
        statement: String::new(),
        sql: "select".into(),
        param_types: vec![0; 40_000],
    };
    assert!(too_many.encode(&mut out).is_err());
    assert_eq!(&out[..], b"kept");
}

#[test]
fn frontend_password_and_sasl_bodies() {
    let mut out = BytesMut::new();
    encode_password(&mut out, "hunter2").unwrap();
    let raw = one_frame(&mut out);
    assert_eq!(raw.tag, tags::frontend::PASSWORD);
    let FrontendMessage::PasswordMessage(body) = FrontendMessage::decode(&raw).unwrap() else {
        panic!()
    };
    assert_eq!(parse_password(&body).unwrap(), "hunter2");
    assert!(matches!(
        parse_password(&Bytes::from_static(b"abc")),
        Err(WireError::MissingNul { .. })
    ));
    assert!(matches!(
        parse_password(&Bytes::from_static(b"abc\0def")),
        Err(WireError::TrailingBytes { .. })
    ));
    assert!(encode_password(&mut out, "a\0b").is_err());
    assert!(out.is_empty());

    for data in [Some(&b"n,,n=,r=nonce"[..]), Some(&b""[..]), None] {
        let mut out = BytesMut::new();
        encode_sasl_initial_response(&mut out, "SCRAM-SHA-256", data).unwrap();
        let raw = one_frame(&mut out);
        assert_eq!(
            parse_sasl_initial_response(&raw.body).unwrap(),
            SaslInitialResponse {
                mechanism: "SCRAM-SHA-256".into(),
                data: data.map(Bytes::copy_from_slice),
            }
        );
        assert_prefixes_fail(&raw, |r| parse_sasl_initial_response(&r.body));
    }
    let mut bad = b"SCRAM-SHA-256\0".to_vec();
    bad.extend_from_slice(&100i32.to_be_bytes());
    bad.extend_from_slice(b"short");
    assert!(matches!(
        parse_sasl_initial_response(&Bytes::from(bad)),
        Err(WireError::Truncated("SASLInitialResponse"))
    ));
    let mut bad = b"SCRAM-SHA-256\0".to_vec();
    bad.extend_from_slice(&(-3i32).to_be_bytes());
    assert!(matches!(
        parse_sasl_initial_response(&Bytes::from(bad)),
        Err(WireError::Invalid { .. })
    ));

    let mut out = BytesMut::new();
    encode_sasl_response(&mut out, b"c=biws,r=nonce,p=proof");
    let raw = one_frame(&mut out);
    assert_eq!(
        FrontendMessage::decode(&raw).unwrap(),
        FrontendMessage::PasswordMessage(Bytes::from_static(b"c=biws,r=nonce,p=proof"))
    );
}

// ---------------------------------------------------------------- backend

#[test]
fn backend_round_trips() {
    for msg in sample_backend() {
        let raw = backend_raw(&msg);
        assert_eq!(BackendMessage::decode(&raw).unwrap(), msg, "{}", msg.name());
    }
}

#[test]
fn backend_every_truncation_fails() {
    for msg in sample_backend() {
        let structured = matches!(
            msg,
            BackendMessage::Authentication(_)
                | BackendMessage::ParameterStatus { .. }
                | BackendMessage::BackendKeyData { .. }
                | BackendMessage::ReadyForQuery { .. }
                | BackendMessage::RowDescription(_)
                | BackendMessage::DataRow(_)
                | BackendMessage::CommandComplete { .. }
                | BackendMessage::ErrorResponse(_)
                | BackendMessage::NoticeResponse(_)
                | BackendMessage::ParameterDescription(_)
        );
        let raw_tail = matches!(
            msg,
            BackendMessage::Authentication(
                Authentication::SaslContinue(_)
                    | Authentication::SaslFinal(_)
                    | Authentication::Other { .. }
            )
        );
        if structured && !raw_tail {
            assert_prefixes_fail(&backend_raw(&msg), BackendMessage::decode);
        }
    }
}

#[test]
fn backend_gateway_encoders() {
    let decode_one = |out: &mut BytesMut| BackendMessage::decode(&one_frame(out)).unwrap();
    let mut out = BytesMut::new();

    encode::authentication_ok(&mut out);
    assert_eq!(
        decode_one(&mut out),
        BackendMessage::Authentication(Authentication::Ok)
    );
    encode::authentication_cleartext_password(&mut out);
    assert_eq!(
        decode_one(&mut out),
        BackendMessage::Authentication(Authentication::CleartextPassword)
    );
    encode::authentication_md5_password(&mut out, [9, 8, 7, 6]);
    assert_eq!(
        decode_one(&mut out),
        BackendMessage::Authentication(Authentication::Md5Password { salt: [9, 8, 7, 6] })
    );
    encode::authentication_sasl(&mut out, &["SCRAM-SHA-256"]);
    assert_eq!(
        decode_one(&mut out),
        BackendMessage::Authentication(Authentication::Sasl {
            mechanisms: vec!["SCRAM-SHA-256".into()]
        })
    );
    encode::authentication_sasl_continue(&mut out, b"r=1");
    assert_eq!(
        decode_one(&mut out),
        BackendMessage::Authentication(Authentication::SaslContinue(Bytes::from_static(b"r=1")))
    );
    encode::authentication_sasl_final(&mut out, b"v=2");
    assert_eq!(
        decode_one(&mut out),
        BackendMessage::Authentication(Authentication::SaslFinal(Bytes::from_static(b"v=2")))
    );
    encode::parameter_status(&mut out, "client_encoding", "UTF8");
    assert_eq!(
        decode_one(&mut out),
        BackendMessage::ParameterStatus {
            name: "client_encoding".into(),
            value: "UTF8".into()
        }
    );
    encode::backend_key_data(&mut out, 1, 2);
    assert_eq!(
        decode_one(&mut out),
        BackendMessage::BackendKeyData {
            process_id: 1,
            secret_key: 2
        }
    );
    encode::ready_for_query(&mut out, TransactionStatus::Failed);
    assert_eq!(
        decode_one(&mut out),
        BackendMessage::ReadyForQuery {
            status: TransactionStatus::Failed
        }
    );
    encode::command_complete(&mut out, "SELECT 3");
    assert_eq!(
        decode_one(&mut out),
        BackendMessage::CommandComplete {
            tag: "SELECT 3".into()
        }
    );
    encode::empty_query_response(&mut out);
    assert_eq!(decode_one(&mut out), BackendMessage::EmptyQueryResponse);
    encode::parse_complete(&mut out);
    assert_eq!(decode_one(&mut out), BackendMessage::ParseComplete);
    encode::bind_complete(&mut out);
    assert_eq!(decode_one(&mut out), BackendMessage::BindComplete);
    encode::close_complete(&mut out);
    assert_eq!(decode_one(&mut out), BackendMessage::CloseComplete);
    encode::no_data(&mut out);
    assert_eq!(decode_one(&mut out), BackendMessage::NoData);
    encode::portal_suspended(&mut out);
    assert_eq!(decode_one(&mut out), BackendMessage::PortalSuspended);
    encode::copy_data(&mut out, b"x");
    assert_eq!(
        decode_one(&mut out),
        BackendMessage::CopyData(Bytes::from_static(b"x"))
    );
    encode::copy_done(&mut out);
    assert_eq!(decode_one(&mut out), BackendMessage::CopyDone);
    encode::parameter_description(&mut out, &[23]);
    assert_eq!(
        decode_one(&mut out),
        BackendMessage::ParameterDescription(vec![23])
    );
    encode::data_row(&mut out, &[Some(b"a"), None]);
    let BackendMessage::DataRow(row) = decode_one(&mut out) else {
        panic!()
    };
    assert_eq!(row.cells().collect::<Vec<_>>(), vec![Some(&b"a"[..]), None]);
    let fields = vec![FieldDescription {
        name: "n".into(),
        table_oid: 0,
        column_id: 0,
        type_oid: 20,
        type_size: 8,
        type_modifier: -1,
        format: 0,
    }];
    encode::row_description(&mut out, &fields);
    assert_eq!(decode_one(&mut out), BackendMessage::RowDescription(fields));

    let notice = ErrorFields::new(Severity::Warning, "01000", "careful");
    encode::notice_response(&mut out, &notice);
    assert_eq!(decode_one(&mut out), BackendMessage::NoticeResponse(notice));

    encode::negotiate_protocol_version(
        &mut out,
        tags::startup::PROTOCOL_3_0,
        &["_pq_.a", "_pq_.b"],
    );
    let BackendMessage::NegotiateProtocolVersion(body) = decode_one(&mut out) else {
        panic!()
    };
    let n = ProtocolNegotiation::decode(&body).unwrap();
    assert_eq!(n.newest_version, tags::startup::PROTOCOL_3_0);
    assert_eq!(n.unrecognized_options, vec!["_pq_.a", "_pq_.b"]);
}

#[test]
fn error_fields_builder_and_leniency() {
    let e = ErrorFields::new(Severity::Error, "42501", "access denied by access-control")
        .with_detail("table payroll is restricted")
        .with_hint("ask for a review");
    assert_eq!(e.severity(), Some("ERROR"));
    assert_eq!(e.code(), Some("42501"));
    assert_eq!(e.message(), Some("access denied by access-control"));
    assert_eq!(e.detail(), Some("table payroll is restricted"));
    assert_eq!(e.hint(), Some("ask for a review"));
    assert_eq!(e.get(tags::error_field::SEVERITY), Some("ERROR"));
    let e = e.with_hint("replaced");
    assert_eq!(e.hint(), Some("replaced"));
    assert_eq!(e.fields().iter().filter(|(c, _)| *c == b'H').count(), 1);

    let mut out = BytesMut::new();
    encode::error_response(&mut out, &e);
    let raw = one_frame(&mut out);
    assert_eq!(raw.tag, b'E');
    assert_eq!(
        BackendMessage::decode(&raw).unwrap(),
        BackendMessage::ErrorResponse(e)
    );

    // A NUL in a value cannot inject a field.
    let sneaky = ErrorFields::new(Severity::Error, "42501", "denied\0Hfake hint");
    encode::error_response(&mut out, &sneaky);
    let BackendMessage::ErrorResponse(decoded) =
        BackendMessage::decode(&one_frame(&mut out)).unwrap()
    else {
        panic!()
    };
    assert_eq!(decoded.message(), Some("denied"));
    assert_eq!(decoded.hint(), None);

    // Invalid UTF-8 in diagnostic text is replaced, not fatal.
    let body = Bytes::from_static(b"SERROR\0Mbad \xff byte\0\0");
    let e = ErrorFields::decode(&body, "ErrorResponse").unwrap();
    assert_eq!(e.message(), Some("bad \u{fffd} byte"));

    // Missing final zero, and bytes after it.
    assert!(ErrorFields::decode(&Bytes::from_static(b"SERROR\0"), "ErrorResponse").is_err());
    assert!(matches!(
        ErrorFields::decode(&Bytes::from_static(b"SERROR\0\0x"), "ErrorResponse"),
        Err(WireError::TrailingBytes { .. })
    ));

    // WireError answers.
    let err = WireError::UnknownFrontendTag(b'z');
    let answer = err.to_error_response();
    assert_eq!(answer.code(), Some("08P01"));
    assert_eq!(answer.message(), Some("unknown frontend message tag 'z'"));
}

#[test]
fn backend_malformed_inputs() {
    let decode = |tag: u8, body: &[u8]| {
        BackendMessage::decode(&RawMessage::new(tag, Bytes::copy_from_slice(body)))
    };

    assert_eq!(
        decode(b'!', b"").unwrap_err().to_string(),
        "unknown backend message tag '!'"
    );
    let err = decode(b'Z', b"Q").unwrap_err();
    assert_eq!(
        err.to_string(),
        "ReadyForQuery message: unknown transaction status 'Q'"
    );
    assert!(matches!(
        decode(b'Z', b"II"),
        Err(WireError::TrailingBytes { .. })
    ));
    assert!(matches!(
        decode(b'K', &[0; 12]),
        Err(WireError::TrailingBytes { .. })
    ));

    // RowDescription claiming 32767 fields in a few bytes.
    let mut rd = i16::MAX.to_be_bytes().to_vec();
    rd.extend_from_slice(&[b'a', 0, 0, 0]);
    assert!(matches!(
        decode(b'T', &rd),
        Err(WireError::Truncated("RowDescription"))
    ));
    assert!(matches!(
        decode(b'T', &(-1i16).to_be_bytes()),
        Err(WireError::Invalid { .. })
    ));
    assert!(matches!(
        decode(b't', &[0x7f, 0xff, 0, 0]),
        Err(WireError::Truncated(_))
    ));

    // Authentication.
    assert!(matches!(
        decode(b'R', &[0, 0, 0, 5, 1, 2]),
        Err(WireError::Truncated("Authentication"))
    ));
    assert!(matches!(
        decode(b'R', &[0, 0, 0, 0, 1]),
        Err(WireError::TrailingBytes { .. })
    ));
    assert!(matches!(
        decode(b'R', &[0, 0, 0, 10, b'S', 0]),
        Err(WireError::MissingNul { .. })
    ));
    assert!(matches!(
        decode(b'R', &[0, 0]),
        Err(WireError::Truncated(_))
    ));

    // NegotiateProtocolVersion with an absurd option count.
    let mut npv = 0i32.to_be_bytes().to_vec();
    npv.extend_from_slice(&i32::MAX.to_be_bytes());
    assert!(matches!(
        ProtocolNegotiation::decode(&Bytes::from(npv)),
        Err(WireError::Truncated(_))
    ));
}

// ---------------------------------------------------------------- DataRow

fn data_row_body(cells: &[Option<&[u8]>]) -> Bytes {
    DataRow::from_cells(cells).body().clone()
}

#[test]
fn data_row_cells_with_nulls() {
    let cells: [Option<&[u8]>; 5] = [
        None,
        Some(b"alice"),
        Some(b""),
        None,
        Some(b"\x00\x01binary"),
    ];
    let row = DataRow::decode(data_row_body(&cells)).unwrap();
    assert_eq!(row.columns(), 5);
    assert_eq!(row.cells().len(), 5);
    assert_eq!(row.cells().collect::<Vec<_>>(), cells.to_vec());
    let owned: Vec<Option<Bytes>> = row.cell_bytes().collect();
    assert_eq!(owned[1].as_deref(), Some(&b"alice"[..]));
    assert_eq!(owned[0], None);
    // Owned cells are slices of the row, not copies.
    let body = row.body().as_ptr() as usize..row.body().as_ptr() as usize + row.body().len();
    assert!(body.contains(&(owned[1].as_ref().unwrap().as_ptr() as usize)));

    // A whole NULL row and an empty row.
    let row = DataRow::decode(data_row_body(&[None, None])).unwrap();
    assert_eq!(row.cells().collect::<Vec<_>>(), vec![None, None]);
    let row = DataRow::decode(data_row_body(&[])).unwrap();
    assert_eq!(row.cells().count(), 0);
}

#[test]
fn data_row_malformed() {
    let check = |body: Vec<u8>| DataRow::decode(Bytes::from(body));
    assert!(matches!(
        check(vec![]),
        Err(WireError::Truncated("DataRow"))
    ));
    assert!(matches!(
        check(vec![0xff, 0xff]),
        Err(WireError::Invalid { .. })
    ));
    // 32767 columns claimed, none present: refused before any walk.
    assert!(matches!(
        check(vec![0x7f, 0xff, 0, 0, 0, 0]),
        Err(WireError::Truncated(_))
    ));
    // Length below -1.
    assert!(matches!(
        check(vec![0, 1, 0xff, 0xff, 0xff, 0xfe]),
        Err(WireError::Invalid { .. })
    ));
    // Cell longer than the body.
    assert!(matches!(
        check(vec![0, 1, 0, 0, 0, 9, b'a']),
        Err(WireError::Truncated(_))
    ));
    // Cell length i32::MAX.
    assert!(matches!(
        check(vec![0, 1, 0x7f, 0xff, 0xff, 0xff, b'a']),
        Err(WireError::Truncated(_))
    ));
    // Trailing bytes after the last cell.
    assert!(matches!(
        check(vec![0, 1, 0xff, 0xff, 0xff, 0xff, 0]),
        Err(WireError::TrailingBytes { count: 1, .. })
    ));
}

#[test]
fn data_rows_to_batch_and_back() {
    let rows: Vec<Vec<Option<&[u8]>>> = vec![
        vec![Some(b"1"), Some(b"alice@example.com"), None],
        vec![Some(b"2"), None, Some(b"")],
        vec![None, Some(b"bob@example.com"), Some(b"x")],
    ];
    let mut data = Vec::new();
    let mut cell_lengths = Vec::new();
    for cells in &rows {
        DataRow::decode(data_row_body(cells))
            .unwrap()
            .append_to_batch(&mut data, &mut cell_lengths);
    }
    assert_eq!(cell_lengths, vec![1, 17, -1, 1, -1, 0, -1, 15, 1]);
    assert_eq!(data, b"1alice@example.com2bob@example.comx");

    let mut out = BytesMut::new();
    encode_batch(&mut out, 3, 3, &data, &cell_lengths).unwrap();
    let back = read_all_messages(&out).unwrap();
    assert_eq!(back.len(), 3);
    for (raw, cells) in back.iter().zip(&rows) {
        let BackendMessage::DataRow(row) = BackendMessage::decode(raw).unwrap() else {
            panic!()
        };
        assert_eq!(&row.cells().collect::<Vec<_>>(), cells);
    }

    // Inconsistent batches are refused and write nothing.
    let mut out = BytesMut::new();
    assert!(encode_batch(&mut out, 3, 2, &data, &cell_lengths).is_err());
    assert!(encode_batch(&mut out, 3, 3, &data[1..], &cell_lengths).is_err());
    let mut bad = cell_lengths.clone();
    bad[0] = -2;
    assert!(encode_batch(&mut out, 3, 3, &data, &bad).is_err());
    assert!(encode_batch(&mut out, 40_000, 0, &[], &[]).is_err());
    assert!(out.is_empty());

    // Rows of zero columns.
    encode_batch(&mut out, 0, 2, &[], &[]).unwrap();
    let back = read_all_messages(&out).unwrap();
    assert_eq!(back.len(), 2);
    assert!(back.iter().all(|m| m.tag == b'D' && m.body[..] == [0, 0]));
}

// ------------------------------------------------------- mutation smoke test

/// A small deterministic fuzz run in the unit tests (the real fuzzing is in
/// `host/gateway/fuzz`): mutated messages must decode or fail, not panic.
#[test]
fn mutated_messages_never_panic() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let front: Vec<RawMessage> = sample_frontend().iter().map(frontend_raw).collect();
    let back: Vec<RawMessage> = sample_backend().iter().map(backend_raw).collect();
    for _ in 0..20_000 {
        let pick = (next() % (front.len() + back.len()) as u64) as usize;
        let (raw, is_front) = if pick < front.len() {
            (&front[pick], true)
        } else {
            (&back[pick - front.len()], false)
        };
        let mut body = raw.body.to_vec();
        for _ in 0..1 + next() % 4 {
            match next() % 3 {
                0 if !body.is_empty() => {
                    let i = (next() % body.len() as u64) as usize;
                    body[i] = next() as u8;
                }
                1 if !body.is_empty() => {
                    body.truncate((next() % body.len() as u64) as usize);
                }
                _ => body.push(next() as u8),
            }
        }
        let mutated = RawMessage::new(raw.tag, body);
        if is_front {
            let _ = FrontendMessage::decode(&mutated);
        } else if let Ok(BackendMessage::DataRow(row)) = BackendMessage::decode(&mutated) {
            let mut data = Vec::new();
            let mut lengths = Vec::new();
            row.append_to_batch(&mut data, &mut lengths);
            assert_eq!(lengths.len(), row.columns());
        }
    }
}

// ------------------------------------------------- real PostgreSQL cross-check

mod live {
    //! Against the PostgreSQL of the development machine and CI
    //! (127.0.0.1:5432, trust authentication, database `test`, user
    //! `postgres`). Skipped, with a note, when nothing answers there.

    use std::time::Duration;

    use bytes::BytesMut;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;

    use super::super::*;
    use super::MAX;

    const ADDR: &str = "127.0.0.1:5432";

    async fn connect() -> Option<TcpStream> {
        match tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(ADDR)).await {
            Ok(Ok(s)) => Some(s),
            _ => {
                eprintln!("no PostgreSQL at {ADDR}: live wire test skipped");
                None
            }
        }
    }

    struct Conn {
        stream: TcpStream,
        buf: BytesMut,
    }

    impl Conn {
        async fn send(&mut self, out: &[u8]) {
            self.stream.write_all(out).await.unwrap();
        }

        /// Reads one message, decodes it, and checks that encoding the
        /// decoded message gives back the server's exact bytes.
        async fn recv(&mut self) -> BackendMessage {
            let raw = tokio::time::timeout(
                Duration::from_secs(10),
                read_message(&mut self.stream, &mut self.buf, MAX),
            )
            .await
            .expect("server answered in time")
            .unwrap()
            .expect("server kept the connection open");
            let msg =
                BackendMessage::decode(&raw).unwrap_or_else(|e| panic!("decoding {raw:?}: {e}"));
            let mut again = BytesMut::new();
            msg.encode(&mut again);
            let mut original = BytesMut::new();
            raw.encode(&mut original);
            assert_eq!(
                again,
                original,
                "re-encoding {} changed its bytes",
                msg.name()
            );
            msg
        }

        async fn until_ready(&mut self) -> (Vec<BackendMessage>, TransactionStatus) {
            let mut seen = Vec::new();
            loop {
                match self.recv().await {
                    BackendMessage::ReadyForQuery { status } => return (seen, status),
                    other => seen.push(other),
                }
            }
        }

        async fn query(&mut self, sql: &str) -> (Vec<BackendMessage>, TransactionStatus) {
            let mut out = BytesMut::new();
            FrontendMessage::Query { sql: sql.into() }
                .encode(&mut out)
                .unwrap();
            self.send(&out).await;
            self.until_ready().await
        }
    }

    async fn login(stream: TcpStream, startup: &[u8]) -> (Conn, Vec<BackendMessage>) {
        let mut conn = Conn {
            stream,
            buf: BytesMut::new(),
        };
        conn.send(startup).await;
        let (seen, status) = conn.until_ready().await;
        assert_eq!(status, TransactionStatus::Idle);
        (conn, seen)
    }

    fn startup_bytes() -> BytesMut {
        let mut out = BytesMut::new();
        encode_startup(
            &mut out,
            &[
                ("user", "postgres"),
                ("database", "test"),
                ("application_name", "gatehouse-wire-test"),
            ],
        )
        .unwrap();
        out
    }

    #[tokio::test]
    async fn live_postgres_simple_and_extended_query() {
        let Some(stream) = connect().await else {
            return;
        };
        let (mut conn, hello) = login(stream, &startup_bytes()).await;
        assert_eq!(hello[0], BackendMessage::Authentication(Authentication::Ok));
        assert!(hello.iter().any(|m| matches!(m,
            BackendMessage::ParameterStatus { name, value } if name == "client_encoding" && value == "UTF8")));
        assert!(
            hello
                .iter()
                .any(|m| matches!(m, BackendMessage::BackendKeyData { .. }))
        );

        // The brief's query: a value and a NULL.
        let (seen, status) = conn.query("select 1 as a, null::text as b").await;
        assert_eq!(status, TransactionStatus::Idle);
        let [
            BackendMessage::RowDescription(fields),
            BackendMessage::DataRow(row),
            BackendMessage::CommandComplete { tag },
        ] = &seen[..]
        else {
            panic!("unexpected reply {seen:?}");
        };
        let names: Vec<_> = fields
            .iter()
            .map(|f| (f.name.as_str(), f.type_oid))
            .collect();
        assert_eq!(names, vec![("a", 23), ("b", 25)]);
        assert_eq!(row.cells().collect::<Vec<_>>(), vec![Some(&b"1"[..]), None]);
        assert_eq!(tag, "SELECT 1");

        // Extended protocol through our frontend encoders.
        let mut out = BytesMut::new();
        for msg in [
            FrontendMessage::Parse {
                statement: "s1".into(),
                sql: "select $1::int4 + 1 as n, $2::text as t".into(),
                param_types: vec![23, 25],
            },
            FrontendMessage::Describe {
                target: Target::Statement,
                name: "s1".into(),
            },
            FrontendMessage::Bind {
                portal: String::new(),
                statement: "s1".into(),
                param_formats: vec![0],
                params: vec![Some(bytes::Bytes::from_static(b"41")), None],
                result_formats: vec![0],
            },
            FrontendMessage::Execute {
                portal: String::new(),
                max_rows: 0,
            },
            FrontendMessage::Close {
                target: Target::Statement,
                name: "s1".into(),
            },
            FrontendMessage::Sync,
        ] {
            msg.encode(&mut out).unwrap();
        }
        conn.send(&out).await;
        let (seen, _) = conn.until_ready().await;
        let names: Vec<_> = seen.iter().map(BackendMessage::name).collect();
        assert_eq!(
            names,
            [
                "ParseComplete",
                "ParameterDescription",
                "RowDescription",
                "BindComplete",
                "DataRow",
                "CommandComplete",
                "CloseComplete"
            ]
        );
        assert_eq!(seen[1], BackendMessage::ParameterDescription(vec![23, 25]));
        let BackendMessage::DataRow(row) = &seen[4] else {
            panic!()
        };
        assert_eq!(
            row.cells().collect::<Vec<_>>(),
            vec![Some(&b"42"[..]), None]
        );

        // Errors, notices, empty queries, COPY and transaction states.
        let (seen, status) = conn.query("select * from gatehouse_no_such_table").await;
        let [BackendMessage::ErrorResponse(e)] = &seen[..] else {
            panic!("{seen:?}")
        };
        assert_eq!((e.severity(), e.code()), (Some("ERROR"), Some("42P01")));
        assert_eq!(status, TransactionStatus::Idle);

        let (seen, _) = conn
            .query("do $$ begin raise notice 'hello from plpgsql'; end $$")
            .await;
        let [
            BackendMessage::NoticeResponse(n),
            BackendMessage::CommandComplete { tag },
        ] = &seen[..]
        else {
            panic!("{seen:?}")
        };
        assert_eq!(n.message(), Some("hello from plpgsql"));
        assert_eq!(tag, "DO");

        let (seen, _) = conn.query("").await;
        assert_eq!(seen, vec![BackendMessage::EmptyQueryResponse]);

        let (seen, _) = conn
            .query("copy (select 1 union all select 2) to stdout")
            .await;
        let names: Vec<_> = seen.iter().map(BackendMessage::name).collect();
        assert_eq!(
            names,
            [
                "CopyOutResponse",
                "CopyData",
                "CopyData",
                "CopyDone",
                "CommandComplete"
            ]
        );
        assert_eq!(
            seen[1],
            BackendMessage::CopyData(bytes::Bytes::from_static(b"1\n"))
        );

        assert_eq!(
            conn.query("begin").await.1,
            TransactionStatus::InTransaction
        );
        assert_eq!(conn.query("select 1/0").await.1, TransactionStatus::Failed);
        assert_eq!(conn.query("rollback").await.1, TransactionStatus::Idle);

        let mut out = BytesMut::new();
        FrontendMessage::Terminate.encode(&mut out).unwrap();
        conn.send(&out).await;
        let end = read_message(&mut conn.stream, &mut conn.buf, MAX)
            .await
            .unwrap();
        assert_eq!(end, None, "the server closes cleanly after Terminate");
    }

    #[tokio::test]
    async fn live_postgres_negotiates_protocol_3_2_down() {
        let Some(stream) = connect().await else {
            return;
        };
        // A 3.2 startup with a protocol option, as a newer libpq might send.
        let mut body = (3u32 << 16 | 2).to_be_bytes().to_vec();
        for s in [
            "user",
            "postgres",
            "database",
            "test",
            "_pq_.gatehouse_test",
            "1",
        ] {
            body.extend_from_slice(s.as_bytes());
            body.push(0);
        }
        body.push(0);
        let mut packet = ((body.len() + 4) as i32).to_be_bytes().to_vec();
        packet.extend_from_slice(&body);

        let (_conn, hello) = login(stream, &packet).await;
        let BackendMessage::NegotiateProtocolVersion(raw) = hello
            .iter()
            .find(|m| matches!(m, BackendMessage::NegotiateProtocolVersion(_)))
            .expect("PostgreSQL 15 negotiates 3.2 down")
        else {
            unreachable!()
        };
        let n = ProtocolNegotiation::decode(raw).unwrap();
        assert_eq!(
            n.newest_version,
            tags::startup::PROTOCOL_3_0,
            "the full version number, not the minor"
        );
        assert_eq!(n.unrecognized_options, vec!["_pq_.gatehouse_test"]);
    }

    #[tokio::test]
    async fn live_postgres_ssl_request_and_cancel() {
        let Some(mut stream) = connect().await else {
            return;
        };
        let mut out = BytesMut::new();
        encode_ssl_request(&mut out);
        stream.write_all(&out).await.unwrap();
        let mut answer = [0u8; 1];
        tokio::io::AsyncReadExt::read_exact(&mut stream, &mut answer)
            .await
            .unwrap();
        assert!(
            matches!(answer[0], b'S' | b'N'),
            "SSLRequest answer {:?}",
            answer[0] as char
        );
        drop(stream);

        // Cancel a running query with the key from BackendKeyData.
        let Some(stream) = connect().await else {
            return;
        };
        let (mut conn, hello) = login(stream, &startup_bytes()).await;
        let (process_id, secret_key) = hello
            .iter()
            .find_map(|m| match m {
                BackendMessage::BackendKeyData {
                    process_id,
                    secret_key,
                } => Some((*process_id, *secret_key)),
                _ => None,
            })
            .unwrap();
        let mut out = BytesMut::new();
        FrontendMessage::Query {
            sql: "select pg_sleep(30)".into(),
        }
        .encode(&mut out)
        .unwrap();
        conn.send(&out).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut cancel = connect().await.unwrap();
        let mut out = BytesMut::new();
        encode_cancel(&mut out, process_id, secret_key);
        cancel.write_all(&out).await.unwrap();
        let (seen, _) = conn.until_ready().await;
        let Some(BackendMessage::ErrorResponse(e)) = seen.last() else {
            panic!("{seen:?}")
        };
        assert_eq!(e.code(), Some("57014"), "query_canceled");
    }
}
