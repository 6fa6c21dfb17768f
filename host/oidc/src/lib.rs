//! OpenID Connect for Gatehouse's control plane.
//!
//! Two jobs, both against a real OpenID Provider (Okta, Keycloak, Google,
//! Entra ID, Dex, `oidc-provider`, …):
//!
//! * **Bearer tokens**: [`Verifier::verify`] checks a JWT presented as
//!   `Authorization: Bearer …` against the provider's JWKS (discovered from
//!   `/.well-known/openid-configuration`) and returns a
//!   [`VerifiedIdentity`] — subject, email, groups and the Gatehouse
//!   [`Role`] mapped from those groups by [`RoleMapping`].
//! * **Login**: authorization code + PKCE (S256) with state and nonce, for
//!   the browser ([`OidcClient::begin_login`] / [`OidcClient::handle_callback`]
//!   with a [`PendingLogins`] store) and for the CLI
//!   ([`OidcClient::login_with_loopback`], a one-shot listener on
//!   `127.0.0.1`).
//!
//! Invariants, whatever the caller does:
//!
//! * only asymmetric signatures are accepted (RS256/384/512, PS256/384/512,
//!   ES256, ES384, EdDSA), and only with a JWKS key whose type (and `alg`,
//!   when the key names one) allows that algorithm: `alg: none`, every
//!   `HS*` (the public-key-as-HMAC-secret confusion) and unknown algorithms
//!   are refused before any key is looked at;
//! * the issuer, audience, expiry and not-before (with a small configurable
//!   clock skew) are always checked; an ID token's nonce always is;
//! * signing keys come only from the discovered `jwks_uri`, never from a
//!   token header (`jwk`, `jku`, `x5u` are ignored; `crit` is refused);
//! * no token, code, verifier or client secret is ever logged or put in an
//!   error message, and their `Debug` output is redacted;
//! * plain `http://` is allowed only to loopback addresses (local tests);
//!   everything else must be `https://`, verified against the bundled Web
//!   PKI roots (or a configured CA file).
//!
//! Start with [`OidcConfig`] (the `[oidc]` table of `gatehouse.toml`), then
//! [`OidcClient::discover`]. See `host/oidc/README.md` for configuration
//! examples.

pub mod config;
pub mod error;
pub mod identity;
pub mod login;
pub mod loopback;
pub mod role;
pub mod verifier;

mod claims;
mod discovery;
mod http;
mod jwks;
mod jws;
mod random;
mod secret;

pub use config::{Algorithm, ClientAuthMethod, OidcConfig};
pub use discovery::ProviderMetadata;
pub use error::{HttpError, LoginError, OidcError, VerifyError};
pub use identity::VerifiedIdentity;
pub use login::{
    AuthorizationRequest, AuthorizeOptions, CallbackParams, LoginOutcome, OidcClient, PendingLogin,
    PendingLogins, TokenSet,
};
pub use loopback::LoopbackListener;
pub use role::{DefaultRole, Role, RoleMapping};
pub use secret::SecretRef;
pub use verifier::Verifier;
