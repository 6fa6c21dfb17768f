//! JWS compact serialization (RFC 7515) and signature checks with ring.
//!
//! Order of checks, each failure final:
//! 1. size (≤ 32 KiB) and shape: exactly three base64url (no padding)
//!    segments — five (JWE) or any other count is malformed;
//! 2. the header is a JSON object with a string `alg`; `crit` is refused;
//! 3. `alg`: `none` (any case) is [`VerifyError::Unsigned`]; `HS*`,
//!    unknown names and algorithms outside the allow-list are
//!    [`VerifyError::DisallowedAlgorithm`] — decided before any key is
//!    touched, so a public key can never be used as an HMAC secret;
//! 4. (caller) the key is found by `kid` and must allow `alg`;
//! 5. the signature over `header.payload` verifies with that key.
//!
//! The payload is only decoded here; its claims are read after step 5.

use crate::config::Algorithm;
use crate::error::VerifyError;
use crate::jwks::{Key, Material};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::{Map, Value};

/// Longest token accepted (headers rarely allow more anyway).
pub(crate) const MAX_TOKEN_LEN: usize = 32 * 1024;

/// A token whose header passed steps 1-3.
pub(crate) struct Parsed<'a> {
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<String>,
    /// `header.payload`, what the signature covers.
    pub(crate) signing_input: &'a str,
    pub(crate) payload: Vec<u8>,
    pub(crate) signature: Vec<u8>,
}

fn segment(text: &str) -> Result<Vec<u8>, VerifyError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| VerifyError::Malformed("a segment is not base64url"))
}

/// The `alg` as safe to show: short, ASCII alphanumerics only.
fn shown_alg(alg: &str) -> String {
    alg.chars()
        .filter(char::is_ascii_alphanumeric)
        .take(16)
        .collect()
}

/// Steps 1-3.
pub(crate) fn parse<'a>(token: &'a str, allowed: &[Algorithm]) -> Result<Parsed<'a>, VerifyError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(VerifyError::Malformed("token too long"));
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed(
            "not a signed JWT (three dot-separated parts)",
        ));
    };
    // A JSON object (serde would also read a struct from an array).
    let header: Map<String, Value> = serde_json::from_slice(&segment(header_b64)?)
        .map_err(|_| VerifyError::Malformed("header is not a JSON object"))?;
    if header.contains_key("crit") {
        return Err(VerifyError::UnsupportedCritical);
    }
    let Some(Value::String(alg_name)) = header.get("alg") else {
        return Err(VerifyError::Malformed("header has no string alg"));
    };
    if alg_name.eq_ignore_ascii_case("none") {
        return Err(VerifyError::Unsigned);
    }
    let kid = match header.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(VerifyError::Malformed("header kid is not a string")),
    };
    let alg = Algorithm::from_jose(alg_name)
        .filter(|alg| allowed.contains(alg))
        .ok_or_else(|| VerifyError::DisallowedAlgorithm(shown_alg(alg_name)))?;
    let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
    Ok(Parsed {
        alg,
        kid,
        signing_input,
        payload: segment(payload_b64)?,
        signature: segment(signature_b64)?,
    })
}

/// Step 5: `signature` over `message` with `key` under `alg`.
pub(crate) fn verify_signature(
    key: &Key,
    alg: Algorithm,
    message: &[u8],
    sig: &[u8],
) -> Result<(), VerifyError> {
    if !key.allows(alg) {
        return Err(VerifyError::KeyAlgorithmMismatch(alg.as_str()));
    }
    let result = match (&key.material, alg) {
        (Material::Rsa { n, e }, _) => {
            let params: &signature::RsaParameters = match alg {
                Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
                Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
                Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
                _ => return Err(VerifyError::KeyAlgorithmMismatch(alg.as_str())),
            };
            RsaPublicKeyComponents { n, e }.verify(params, message, sig)
        }
        (Material::P256(point), Algorithm::ES256) => {
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).verify(message, sig)
        }
        (Material::P384(point), Algorithm::ES384) => {
            UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point).verify(message, sig)
        }
        (Material::Ed25519(x), Algorithm::EdDSA) => {
            UnparsedPublicKey::new(&signature::ED25519, x).verify(message, sig)
        }
        _ => return Err(VerifyError::KeyAlgorithmMismatch(alg.as_str())),
    };
    result.map_err(|_| VerifyError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(value: serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    fn token(header: serde_json::Value) -> String {
        format!(
            "{}.{}.{}",
            b64(header),
            b64(serde_json::json!({"sub": "x"})),
            URL_SAFE_NO_PAD.encode([1u8; 64])
        )
    }

    fn err(token: &str) -> VerifyError {
        parse(token, &Algorithm::ALL).err().expect("refused")
    }

    #[test]
    fn alg_none_in_any_case_is_unsigned() {
        for alg in ["none", "None", "NONE", "nOnE"] {
            assert_eq!(
                err(&token(serde_json::json!({"alg": alg}))),
                VerifyError::Unsigned
            );
        }
        // Also with an empty signature segment, the usual shape.
        let unsigned = format!(
            "{}.{}.",
            b64(serde_json::json!({"alg": "none"})),
            b64(serde_json::json!({}))
        );
        assert_eq!(err(&unsigned), VerifyError::Unsigned);
    }

    #[test]
    fn symmetric_and_unknown_algorithms_are_disallowed() {
        for alg in ["HS256", "HS384", "HS512", "ES512", "RSA-OAEP", ""] {
            assert!(
                matches!(
                    err(&token(serde_json::json!({"alg": alg}))),
                    VerifyError::DisallowedAlgorithm(_)
                ),
                "{alg}"
            );
        }
        let es256 = token(serde_json::json!({"alg": "ES256"}));
        let only_rs = parse(&es256, &[Algorithm::RS256]);
        assert_eq!(
            only_rs.err(),
            Some(VerifyError::DisallowedAlgorithm("ES256".into()))
        );
    }

    #[test]
    fn malformed_shapes() {
        let good = token(serde_json::json!({"alg": "RS256", "kid": "k"}));
        let parsed = parse(&good, &Algorithm::ALL).unwrap();
        assert_eq!(parsed.alg, Algorithm::RS256);
        assert_eq!(parsed.kid.as_deref(), Some("k"));
        assert!(good.starts_with(parsed.signing_input));
        assert_eq!(parsed.signing_input.matches('.').count(), 1);

        for bad in [
            String::new(),
            "a.b".to_string(),
            format!("{good}.x.y"),
            format!("{good}="),
            "!!!.e30.e30".to_string(),
            format!("{}.e30.", b64(serde_json::json!(["alg", "RS256"]))),
            format!("{}.e30.", b64(serde_json::json!({"kid": "no alg"}))),
            format!(
                "{}.e30.",
                b64(serde_json::json!({"alg": "RS256", "kid": 7}))
            ),
            format!("{}.e30.", b64(serde_json::json!({"alg": ["RS256"]}))),
            "x".repeat(MAX_TOKEN_LEN + 1),
        ] {
            assert!(matches!(err(&bad), VerifyError::Malformed(_)), "{bad:.40}");
        }
    }

    #[test]
    fn crit_is_refused() {
        let t = token(serde_json::json!({"alg": "RS256", "crit": ["exp"], "exp": 1}));
        assert_eq!(err(&t), VerifyError::UnsupportedCritical);
    }

    #[test]
    fn shown_alg_is_sanitised() {
        assert_eq!(
            shown_alg("HS256\n<script>aaaaaaaaaaaaaaaaaaaa"),
            "HS256scriptaaaaa"
        );
    }
}
