//! Bearer verification against keys we control: a local discovery + JWKS
//! server serves our own test keys, and tokens are minted here — good ones
//! and every kind of bad one. Each bad token must be refused with its typed
//! error.

mod common;

use common::{LocalIdp, TestKey, b64, now};
use gatehouse_oidc::{
    Algorithm, DefaultRole, OidcConfig, OidcError, Role, RoleMapping, Verifier, VerifyError,
};
use ring::hmac;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};

const AUDIENCE: &str = "gatehouse-api";

struct Fixture {
    idp: LocalIdp,
    es: TestKey,
    ed: TestKey,
    rsa: TestKey,
}

impl Fixture {
    async fn start() -> Self {
        let (es, ed, rsa) = (TestKey::es256(), TestKey::ed25519(), TestKey::rsa());
        let jwks = json!({ "keys": [
            es.jwk("es-1", Some("ES256")),
            ed.jwk("ed-1", None),
            rsa.jwk("rsa-1", None),
        ]});
        Fixture {
            idp: LocalIdp::start(jwks).await,
            es,
            ed,
            rsa,
        }
    }

    fn config(&self) -> OidcConfig {
        let mut config = OidcConfig::new(self.idp.issuer.clone(), "gatehouse");
        config.audience = vec![AUDIENCE.into()];
        config.roles = RoleMapping {
            admin_groups: vec!["gatehouse-admins".into()],
            ..RoleMapping::default()
        };
        config
    }

    async fn verifier(&self) -> Verifier {
        Verifier::discover(&self.config()).await.unwrap()
    }

    fn claims(&self) -> Value {
        json!({
            "iss": self.idp.issuer,
            "aud": AUDIENCE,
            "sub": "user-1",
            "email": "alice@example.com",
            "groups": ["gatehouse-admins", "engineering"],
            "iat": now(),
            "exp": now() + 300,
        })
    }

    fn claims_with(&self, key: &str, value: Value) -> Value {
        let mut c = self.claims();
        c[key] = value;
        c
    }

    fn es_token(&self, claims: Value) -> String {
        self.es
            .sign(json!({"alg": "ES256", "kid": "es-1", "typ": "JWT"}), claims)
    }
}

#[tokio::test]
async fn good_tokens_of_every_key_type_verify() {
    let f = Fixture::start().await;
    let v = f.verifier().await;
    let id = v.verify(&f.es_token(f.claims())).await.unwrap();
    assert_eq!(id.subject, "user-1");
    assert_eq!(id.issuer, f.idp.issuer);
    assert_eq!(id.email.as_deref(), Some("alice@example.com"));
    assert_eq!(id.groups, ["gatehouse-admins", "engineering"]);
    assert_eq!(id.role, Role::Admin);
    let exp = id
        .expires_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(exp.abs_diff(now() + 300) <= 2);

    let ed =
        f.ed.sign(json!({"alg": "EdDSA", "kid": "ed-1"}), f.claims());
    assert_eq!(v.verify(&ed).await.unwrap().subject, "user-1");
    let rs = f
        .rsa
        .sign(json!({"alg": "RS256", "kid": "rsa-1"}), f.claims());
    assert_eq!(v.verify(&rs).await.unwrap().subject, "user-1");
    let ps = f
        .rsa
        .sign(json!({"alg": "PS256", "kid": "rsa-1"}), f.claims());
    assert_eq!(v.verify(&ps).await.unwrap().subject, "user-1");
    // As an Authorization header value too.
    let header = format!("Bearer {}", f.es_token(f.claims()));
    assert_eq!(v.verify(&header).await.unwrap().role, Role::Admin);
    // Role mapping: no admin group -> the default user role.
    let user = f.es_token(f.claims_with("groups", json!(["engineering"])));
    assert_eq!(v.verify(&user).await.unwrap().role, Role::User);
    let approver = f.es_token(f.claims_with("groups", json!(["approver-prod"])));
    assert_eq!(v.verify(&approver).await.unwrap().role, Role::Approver);
    // One JWKS fetch served all of that.
    assert_eq!(f.idp.fetches(), 1);
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_refused() {
    let f = Fixture::start().await;
    let v = f.verifier().await;
    let expired = f.es_token(f.claims_with("exp", json!(now() - 3600)));
    assert_eq!(v.verify(&expired).await.unwrap_err(), VerifyError::Expired);
    // Within the 60 s skew: still fine; beyond it: expired.
    let just = f.es_token(f.claims_with("exp", json!(now() - 30)));
    assert!(v.verify(&just).await.is_ok());
    let beyond = f.es_token(f.claims_with("exp", json!(now() - 90)));
    assert_eq!(v.verify(&beyond).await.unwrap_err(), VerifyError::Expired);
    let future = f.es_token(f.claims_with("nbf", json!(now() + 3600)));
    assert_eq!(
        v.verify(&future).await.unwrap_err(),
        VerifyError::NotYetValid
    );
    let good = f.es_token(f.claims());
    let later = SystemTime::now() + Duration::from_secs(3600);
    assert_eq!(
        v.verify_at(&good, later).await.unwrap_err(),
        VerifyError::Expired
    );
    let no_exp = {
        let mut c = f.claims();
        c.as_object_mut().unwrap().remove("exp");
        f.es_token(c)
    };
    assert_eq!(
        v.verify(&no_exp).await.unwrap_err(),
        VerifyError::MissingClaim("exp")
    );
}

#[tokio::test]
async fn wrong_issuer_and_audience_are_refused() {
    let f = Fixture::start().await;
    let v = f.verifier().await;
    let iss = f.es_token(f.claims_with("iss", json!("https://evil.example.com")));
    assert_eq!(v.verify(&iss).await.unwrap_err(), VerifyError::WrongIssuer);
    let aud = f.es_token(f.claims_with("aud", json!("some-other-api")));
    assert_eq!(
        v.verify(&aud).await.unwrap_err(),
        VerifyError::WrongAudience
    );
    // An ID token for the client is not a bearer for the API's audience.
    let client = f.es_token(f.claims_with("aud", json!("gatehouse")));
    assert_eq!(
        v.verify(&client).await.unwrap_err(),
        VerifyError::WrongAudience
    );
    let listed = f.es_token(f.claims_with("aud", json!(["x", AUDIENCE])));
    assert!(v.verify(&listed).await.is_ok());
}

#[tokio::test]
async fn unsigned_tokens_are_refused() {
    let f = Fixture::start().await;
    let v = f.verifier().await;
    for alg in ["none", "None", "NONE"] {
        let token = format!(
            "{}.{}.",
            b64(json!({"alg": alg, "kid": "es-1"}).to_string()),
            b64(f.claims().to_string())
        );
        assert_eq!(
            v.verify(&token).await.unwrap_err(),
            VerifyError::Unsigned,
            "{alg}"
        );
    }
}

#[tokio::test]
async fn hmac_with_the_public_key_as_secret_is_refused() {
    // The classic algorithm confusion: sign HS256 with the provider's
    // public key bytes, hoping the verifier uses the key as an HMAC secret.
    let f = Fixture::start().await;
    let v = f.verifier().await;
    let public_jwk = f.rsa.jwk("rsa-1", None);
    let secrets = [
        public_jwk.to_string().into_bytes(),
        public_jwk["n"].as_str().unwrap().as_bytes().to_vec(),
    ];
    for (alg, hmac_alg) in [("HS256", hmac::HMAC_SHA256), ("HS512", hmac::HMAC_SHA512)] {
        for secret in &secrets {
            let input = format!(
                "{}.{}",
                b64(json!({"alg": alg, "kid": "rsa-1"}).to_string()),
                b64(f.claims().to_string())
            );
            let tag = hmac::sign(&hmac::Key::new(hmac_alg, secret), input.as_bytes());
            let token = format!("{input}.{}", b64(tag.as_ref()));
            assert_eq!(
                v.verify(&token).await.unwrap_err(),
                VerifyError::DisallowedAlgorithm(alg.into())
            );
        }
    }
}

#[tokio::test]
async fn wrongly_signed_and_tampered_tokens_are_refused() {
    let f = Fixture::start().await;
    let v = f.verifier().await;
    // Flip one bit of the signature.
    let good = f.es_token(f.claims());
    let (input, sig) = good.rsplit_once('.').unwrap();
    let mut sig =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
    sig[10] ^= 1;
    let flipped = format!("{input}.{}", b64(&sig));
    assert_eq!(
        v.verify(&flipped).await.unwrap_err(),
        VerifyError::BadSignature
    );
    // Swap in a payload that makes a user an admin, keep the signature.
    let user = f.es_token(f.claims_with("groups", json!(["engineering"])));
    let parts: Vec<&str> = user.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], b64(f.claims().to_string()), parts[2]);
    assert_eq!(
        v.verify(&forged).await.unwrap_err(),
        VerifyError::BadSignature
    );
    // Signed by an attacker's key under the provider's kid.
    let attacker = TestKey::es256();
    let token = attacker.sign(json!({"alg": "ES256", "kid": "es-1"}), f.claims());
    assert_eq!(
        v.verify(&token).await.unwrap_err(),
        VerifyError::BadSignature
    );
    // ... even when the header carries the attacker's key (jwk) or a key URL.
    let token = attacker.sign(
        json!({"alg": "ES256", "kid": "attacker", "jwk": attacker.jwk("attacker", None), "jku": "http://127.0.0.1:1/jwks"}),
        f.claims(),
    );
    assert_eq!(
        v.verify(&token).await.unwrap_err(),
        VerifyError::UnknownKeyId
    );
    // An RS256 header naming the EC key: the key does not allow RS256.
    let token = f
        .rsa
        .sign(json!({"alg": "RS256", "kid": "es-1"}), f.claims());
    assert_eq!(
        v.verify(&token).await.unwrap_err(),
        VerifyError::KeyAlgorithmMismatch("RS256")
    );
    // Critical header extensions are not understood.
    let token = f.es.sign(
        json!({"alg": "ES256", "kid": "es-1", "crit": ["b64"], "b64": false}),
        f.claims(),
    );
    assert_eq!(
        v.verify(&token).await.unwrap_err(),
        VerifyError::UnsupportedCritical
    );
    // Garbage.
    for bad in ["", "abc", "a.b.c", "a.b.c.d.e"] {
        assert!(
            matches!(v.verify(bad).await.unwrap_err(), VerifyError::Malformed(_)),
            "{bad}"
        );
    }
    let huge = f.es_token(f.claims_with("pad", json!("x".repeat(40_000))));
    assert!(matches!(
        v.verify(&huge).await.unwrap_err(),
        VerifyError::Malformed(_)
    ));
}

#[tokio::test]
async fn algorithm_allow_list_is_enforced() {
    let f = Fixture::start().await;
    let mut config = f.config();
    config.algorithms = vec![Algorithm::RS256];
    let v = Verifier::discover(&config).await.unwrap();
    assert_eq!(
        v.verify(&f.es_token(f.claims())).await.unwrap_err(),
        VerifyError::DisallowedAlgorithm("ES256".into())
    );
    let rs = f
        .rsa
        .sign(json!({"alg": "RS256", "kid": "rsa-1"}), f.claims());
    assert!(v.verify(&rs).await.is_ok());
}

#[tokio::test]
async fn missing_kid_uses_the_single_fitting_key_only() {
    let f = Fixture::start().await;
    let v = f.verifier().await;
    // One P-256 key in the set: a kid-less ES256 token can only mean it.
    let token = f.es.sign(json!({"alg": "ES256"}), f.claims());
    assert!(v.verify(&token).await.is_ok());
    // With a second P-256 key, a kid-less ES256 token is ambiguous.
    let other = TestKey::es256();
    f.idp.state.lock().unwrap().jwks["keys"]
        .as_array_mut()
        .unwrap()
        .push(other.jwk("es-2", None));
    let mut config = f.config();
    config.jwks_min_refresh_interval_secs = 0;
    let v = Verifier::discover(&config).await.unwrap();
    assert_eq!(
        v.verify(&token).await.unwrap_err(),
        VerifyError::MissingKeyId
    );
    let with_kid = other.sign(json!({"alg": "ES256", "kid": "es-2"}), f.claims());
    assert!(v.verify(&with_kid).await.is_ok());
}

#[tokio::test]
async fn unknown_kid_refetches_once_then_is_rate_limited() {
    let f = Fixture::start().await;
    let v = f.verifier().await; // min refresh interval: the default 30 s
    assert_eq!(f.idp.fetches(), 1);
    let stranger = TestKey::es256();
    let token = stranger.sign(json!({"alg": "ES256", "kid": "made-up-1"}), f.claims());
    assert_eq!(
        v.verify(&token).await.unwrap_err(),
        VerifyError::UnknownKeyId
    );
    // Startup fetch was < 30 s ago: no refetch for this one.
    assert_eq!(f.idp.fetches(), 1);
    for i in 0..20 {
        let token = stranger.sign(
            json!({"alg": "ES256", "kid": format!("made-up-{i}")}),
            f.claims(),
        );
        assert_eq!(
            v.verify(&token).await.unwrap_err(),
            VerifyError::UnknownKeyId
        );
    }
    assert_eq!(
        f.idp.fetches(),
        1,
        "made-up key ids must not flood the provider"
    );
}

#[tokio::test]
async fn rotated_keys_are_picked_up_on_unknown_kid() {
    let f = Fixture::start().await;
    let mut config = f.config();
    config.jwks_min_refresh_interval_secs = 0;
    let v = Verifier::discover(&config).await.unwrap();
    let next = TestKey::es256();
    let token = next.sign(json!({"alg": "ES256", "kid": "es-2"}), f.claims());
    assert_eq!(
        v.verify(&token).await.unwrap_err(),
        VerifyError::UnknownKeyId
    );
    assert_eq!(f.idp.fetches(), 2);
    // The provider rotates: the new key appears, the old one goes.
    f.idp.state.lock().unwrap().jwks = json!({ "keys": [next.jwk("es-2", None)] });
    assert_eq!(v.verify(&token).await.unwrap().subject, "user-1");
    assert_eq!(f.idp.fetches(), 3);
    let old = f.es_token(f.claims());
    assert_eq!(v.verify(&old).await.unwrap_err(), VerifyError::UnknownKeyId);
}

#[tokio::test]
async fn keys_past_their_ttl_fail_closed_when_the_provider_is_down() {
    let f = Fixture::start().await;
    let mut config = f.config();
    config.jwks_cache_ttl_secs = 1;
    config.jwks_min_refresh_interval_secs = 60;
    let v = Verifier::discover(&config).await.unwrap();
    let token = f.es_token(f.claims());
    assert!(v.verify(&token).await.is_ok());
    f.idp.state.lock().unwrap().fail_jwks = true;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let err = v.verify(&token).await.unwrap_err();
    assert!(matches!(err, VerifyError::KeysUnavailable(_)), "{err:?}");
    assert!(err.is_unavailable());
    assert_eq!(f.idp.fetches(), 2);
    // Failed fetches are rate limited too.
    assert!(v.verify(&token).await.unwrap_err().is_unavailable());
    assert_eq!(f.idp.fetches(), 2);
}

#[tokio::test]
async fn groups_that_map_to_no_role_are_refused() {
    let f = Fixture::start().await;
    let mut config = f.config();
    config.roles.default_role = DefaultRole::None;
    let v = Verifier::discover(&config).await.unwrap();
    let nobody = f.es_token(f.claims_with("groups", json!(["marketing"])));
    assert_eq!(v.verify(&nobody).await.unwrap_err(), VerifyError::NoRole);
    let bad_groups = f.es_token(f.claims_with("groups", json!({"not": "a list"})));
    assert_eq!(
        v.verify(&bad_groups).await.unwrap_err(),
        VerifyError::InvalidClaim("groups")
    );
    assert_eq!(
        v.verify(&f.es_token(f.claims())).await.unwrap().role,
        Role::Admin
    );
}

#[tokio::test]
async fn discovery_refuses_a_document_for_another_issuer() {
    let f = Fixture::start().await;
    f.idp.state.lock().unwrap().claimed_issuer = Some("https://evil.example.com".into());
    let err = Verifier::discover(&f.config()).await.unwrap_err();
    assert!(matches!(err, OidcError::IssuerMismatch { .. }), "{err}");
    let unreachable = OidcConfig::new("http://127.0.0.1:1", "gatehouse");
    let err = Verifier::discover(&unreachable).await.unwrap_err();
    assert!(matches!(err, OidcError::Http(_)), "{err}");
    let plain = OidcConfig::new("http://id.example.com", "gatehouse");
    assert!(matches!(
        Verifier::discover(&plain).await.unwrap_err(),
        OidcError::Config(_)
    ));
}

#[tokio::test]
async fn refusals_never_echo_the_token() {
    let f = Fixture::start().await;
    let v = f.verifier().await;
    let token = f.es_token(f.claims_with("aud", json!("other")));
    let err = v.verify(&token).await.unwrap_err();
    let shown = format!("{err} {err:?}");
    for part in token.split('.') {
        assert!(!shown.contains(part), "{shown}");
    }
}

#[tokio::test]
async fn begin_login_builds_a_pkce_url_and_checks_redirects() {
    use gatehouse_oidc::{AuthorizeOptions, LoginError, OidcClient};
    let f = Fixture::start().await;
    let mut config = f.config();
    config.redirect_urls = vec!["https://gatehouse.example.com/auth/callback".into()];
    config
        .extra_auth_params
        .insert("prompt".into(), "select_account".into());
    let client = OidcClient::discover(config).await.unwrap();
    let options = AuthorizeOptions {
        login_hint: Some("alice@example.com".into()),
        ..AuthorizeOptions::default()
    };
    let (request, pending) = client
        .begin_login("https://gatehouse.example.com/auth/callback", &options)
        .unwrap();
    let url = url::Url::parse(&request.url).unwrap();
    assert_eq!(url.path(), "/auth");
    let params: std::collections::HashMap<String, String> =
        url.query_pairs().into_owned().collect();
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["client_id"], "gatehouse");
    assert_eq!(
        params["redirect_uri"],
        "https://gatehouse.example.com/auth/callback"
    );
    assert_eq!(params["scope"], "openid email profile");
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["code_challenge"].len(), 43);
    assert_eq!(params["state"], request.state);
    assert_eq!(params["state"], pending.state());
    assert_eq!(params["nonce"].len(), 43);
    assert_ne!(params["nonce"], params["state"]);
    assert_eq!(params["login_hint"], "alice@example.com");
    assert_eq!(params["prompt"], "select_account");
    assert!(!params.contains_key("code_verifier"));
    // Fresh values every time.
    let (again, _) = client
        .begin_login(
            "http://127.0.0.1:40000/callback",
            &AuthorizeOptions::default(),
        )
        .unwrap();
    assert_ne!(again.state, request.state);
    // Redirects: configured or loopback only.
    for bad in [
        "https://evil.example.com/cb",
        "http://localhost.evil.com/cb",
        "not a url",
    ] {
        assert!(matches!(
            client.begin_login(bad, &AuthorizeOptions::default()),
            Err(LoginError::RedirectNotAllowed(_))
        ));
    }
    let sneaky = AuthorizeOptions {
        extra_params: vec![("code_challenge_method".into(), "plain".into())],
        ..AuthorizeOptions::default()
    };
    assert!(matches!(
        client.begin_login("http://127.0.0.1:1/callback", &sneaky),
        Err(LoginError::ReservedParameter(p)) if p == "code_challenge_method"
    ));
}

#[tokio::test]
async fn https_providers_are_verified_against_the_configured_roots() {
    let es = TestKey::es256();
    let (idp, cert_pem) = LocalIdp::start_tls(json!({ "keys": [es.jwk("es-1", None)] })).await;
    assert!(idp.issuer.starts_with("https://127.0.0.1:"));
    let mut config = OidcConfig::new(idp.issuer.clone(), "gatehouse");
    // The bundled Web PKI roots do not know our self-signed certificate.
    let err = Verifier::discover(&config).await.unwrap_err();
    assert!(
        matches!(&err, OidcError::Http(e) if e.to_string().contains("certificate")),
        "{err}"
    );
    // With it as the CA file, discovery and the JWKS work over TLS.
    let ca = std::env::temp_dir().join(format!("gatehouse-oidc-ca-{}.pem", std::process::id()));
    std::fs::write(&ca, cert_pem).unwrap();
    config.ca_file = Some(ca.clone());
    let v = Verifier::discover(&config).await.unwrap();
    let token = es.sign(
        json!({"alg": "ES256", "kid": "es-1"}),
        json!({"iss": idp.issuer, "aud": "gatehouse", "sub": "s", "exp": now() + 60}),
    );
    assert_eq!(v.verify(&token).await.unwrap().subject, "s");
    assert_eq!(idp.fetches(), 1);
    std::fs::remove_file(ca).unwrap();
}
