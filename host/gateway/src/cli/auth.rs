//! `login`, `logout`, `whoami`.
//!
//! `login` saves the API URL and an access token in the credentials file
//! ([`super::config`]) after checking them with `GET /api/whoami` — a
//! wrong URL or token is refused and nothing is saved. The token comes
//! from `--token` / `GATEHOUSE_TOKEN`, or is read from stdin (prompted
//! without echo on a terminal). `login --oidc` signs in at the identity
//! provider instead (authorization code + PKCE through a one-shot listener
//! on 127.0.0.1, `gatehouse_oidc::OidcClient::login_with_loopback`) and
//! exchanges the provider's token for a Gatehouse token
//! (`POST /api/auth/token`); that token is marked as minted, and `logout`
//! revokes it. Provider tokens are never saved or printed.

use super::client::{Client, ClientError};
use super::config::{Credentials, OidcLogin};
use super::output::{field, print_fields};
use super::{Ctx, config, input};
use anyhow::Context;
use clap::Args;
use serde_json::{Value, json};
use std::time::Duration;

#[derive(Args)]
pub struct LoginArgs {
    /// Sign in with the identity provider in a browser (OIDC) instead of a token.
    #[arg(long)]
    oidc: bool,
    /// The provider's issuer URL (default: the one saved by the last OIDC login).
    #[arg(
        long,
        env = "GATEHOUSE_OIDC_ISSUER",
        requires = "oidc",
        value_name = "URL"
    )]
    issuer: Option<String>,
    /// This CLI's client id at the provider (a public client).
    #[arg(
        long,
        env = "GATEHOUSE_OIDC_CLIENT_ID",
        requires = "oidc",
        value_name = "ID"
    )]
    client_id: Option<String>,
    /// Scopes to ask for (repeat; default: openid email profile).
    #[arg(long = "scope", requires = "oidc", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// Print the sign-in URL without trying to open a browser.
    #[arg(long, requires = "oidc")]
    no_browser: bool,
    /// How long the sign-in may take.
    #[arg(long, requires = "oidc", value_parser = input::duration, default_value = "5m")]
    wait: Duration,
    /// Name of the Gatehouse token an OIDC login mints (default: cli-<random>).
    #[arg(long, requires = "oidc")]
    name: Option<String>,
    /// Lifetime of the minted token, e.g. 30d (default: the server's, 30 days).
    #[arg(long, requires = "oidc", value_parser = input::duration)]
    expires_in: Option<Duration>,
}

#[derive(Args)]
pub struct LogoutArgs {
    /// Also revoke the token at the API (done anyway for tokens `login --oidc` minted).
    #[arg(long)]
    revoke: bool,
}

/// Who `token` is at `client`'s API (checks both).
async fn whoami_with(client: &Client) -> anyhow::Result<Value> {
    client
        .get(&["api", "whoami"])
        .await
        .with_context(|| format!("checking the token at {}", client.base()))
}

pub async fn login(ctx: &Ctx, args: LoginArgs) -> anyhow::Result<()> {
    let path = config::path()?;
    let mut saved = Credentials::load(&path)?;
    let url = ctx.url()?;
    let (token, minted, oidc) = if args.oidc {
        let (token, oidc) = oidc_login(ctx, &url, &saved, &args).await?;
        (token, true, Some(oidc))
    } else {
        let token = match ctx.given_token() {
            Some(token) => token,
            None => input::secret_from_stdin(&format!("Access token for {url} (ghat_…)"))?,
        };
        (token, false, saved.oidc.clone())
    };
    let client = ctx.client_for(&url, Some(token.clone()))?;
    let me = whoami_with(&client).await?;
    // A previous minted token is replaced: revoke it rather than leave it live.
    if saved.minted
        && let Some(old) = saved.token.as_ref().filter(|old| **old != token)
    {
        let _ = revoke_own(ctx, saved.url.as_deref().unwrap_or(&url), old).await;
    }
    saved = Credentials {
        url: Some(url.clone()),
        token: Some(token),
        email: me["email"].as_str().map(str::to_string),
        minted,
        oidc,
    };
    saved.save(&path)?;
    ctx.out.show(&me, |me| {
        println!(
            "Logged in to {url} as {} ({}). Credentials saved in {}.",
            field(me, "email"),
            field(me, "role"),
            path.display()
        );
    });
    Ok(())
}

/// Sign in at the provider and mint a Gatehouse token with its token.
async fn oidc_login(
    ctx: &Ctx,
    url: &str,
    saved: &Credentials,
    args: &LoginArgs,
) -> anyhow::Result<(String, OidcLogin)> {
    let remembered = saved.oidc.as_ref();
    let issuer = args
        .issuer
        .clone()
        .or_else(|| remembered.map(|o| o.issuer.clone()))
        .context("--oidc needs --issuer (or GATEHOUSE_OIDC_ISSUER) the first time")?;
    let client_id = args
        .client_id
        .clone()
        .or_else(|| remembered.map(|o| o.client_id.clone()))
        .context("--oidc needs --client-id (or GATEHOUSE_OIDC_CLIENT_ID) the first time")?;
    let mut config = gatehouse_oidc::OidcConfig::new(issuer.clone(), client_id.clone());
    if !args.scopes.is_empty() {
        config.scopes = args.scopes.clone();
    }
    config.login_timeout_secs = args.wait.as_secs().max(1);
    let provider = gatehouse_oidc::OidcClient::discover(config)
        .await
        .with_context(|| format!("discovering the identity provider {issuer}"))?;
    let no_browser = args.no_browser;
    let outcome = provider
        .login_with_loopback(
            &gatehouse_oidc::AuthorizeOptions::default(),
            args.wait,
            |link| {
                eprintln!("Sign in at:\n\n    {link}\n");
                if !no_browser {
                    open_browser(link);
                }
                eprintln!("Waiting for the sign-in to finish…");
            },
        )
        .await
        .context("signing in at the identity provider")?;
    let mut body = serde_json::Map::new();
    if let Some(name) = &args.name {
        body.insert("name".into(), json!(name));
    }
    if let Some(ttl) = args.expires_in {
        body.insert("expires_in_secs".into(), json!(ttl.as_secs()));
    }
    let body = Value::Object(body);
    // The access token when the provider issues JWTs for Gatehouse's
    // audience; else the ID token (whose audience is the client id).
    let tokens = &outcome.tokens;
    let mut last = None;
    for bearer in [&tokens.access_token, &tokens.id_token] {
        if bearer.is_empty() {
            continue;
        }
        let client = ctx.client_for(url, Some(bearer.clone()))?;
        match client.post(&["api", "auth", "token"], &body).await {
            Ok(minted) => {
                let token = minted["token"]
                    .as_str()
                    .context("the API's answer to POST /api/auth/token has no token")?
                    .to_string();
                return Ok((token, OidcLogin { issuer, client_id }));
            }
            Err(err @ ClientError::Api { status: 401, .. }) => last = Some(err),
            Err(err) => return Err(err).context("exchanging the sign-in for a Gatehouse token"),
        }
    }
    Err(
        anyhow::Error::new(last.expect("an ID token is always present")).context(
            "Gatehouse refused both the provider's access token and ID token \
         (is the gateway's [oidc] issuer and audience this provider and client?)",
        ),
    )
}

/// Try to open `link` in a browser; failing is fine (the link is printed).
fn open_browser(link: &str) {
    let opener = std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| {
            if cfg!(target_os = "macos") {
                "open"
            } else {
                "xdg-open"
            }
            .to_string()
        });
    let _ = std::process::Command::new(opener)
        .arg(link)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

/// Revoke `token` itself (`POST /auth/logout` with it as the bearer).
async fn revoke_own(ctx: &Ctx, url: &str, token: &str) -> anyhow::Result<()> {
    ctx.client_for(url, Some(token.to_string()))?
        .post_empty(&["auth", "logout"])
        .await?;
    Ok(())
}

pub async fn logout(ctx: &Ctx, args: LogoutArgs) -> anyhow::Result<()> {
    let path = config::path()?;
    let mut saved = Credentials::load(&path)?;
    let Some(token) = saved.token.take() else {
        ctx.out.note(format!(
            "Not logged in ({} holds no token).",
            path.display()
        ));
        return Ok(());
    };
    let url = saved
        .url
        .clone()
        .unwrap_or_else(|| config::DEFAULT_URL.to_string());
    if saved.minted || args.revoke {
        match revoke_own(ctx, &url, &token).await {
            Ok(()) => ctx.out.note("The token is revoked."),
            Err(err) => match err
                .downcast_ref::<ClientError>()
                .and_then(ClientError::status)
            {
                // Already revoked or expired: nothing left to do.
                Some(401) => ctx.out.note("The token was no longer valid."),
                _ => {
                    return Err(err.context(
                        "revoking the token (nothing was changed; `gatehouse logout` again, or \
                         revoke it with `gatehouse tokens revoke`)",
                    ));
                }
            },
        }
    }
    let email = saved.email.take();
    saved.minted = false;
    saved.save(&path)?;
    ctx.out.note(format!(
        "Logged out{} from {url}.",
        email.map(|e| format!(" {e}")).unwrap_or_default()
    ));
    Ok(())
}

pub async fn whoami(ctx: &Ctx) -> anyhow::Result<()> {
    let client = ctx.client()?;
    let me = whoami_with(&client).await?;
    ctx.out.show(&me, |me| {
        let capabilities = me["capabilities"]
            .as_object()
            .map(|caps| {
                caps.iter()
                    .map(|(name, access)| match access.as_str() {
                        Some("own") => format!("{name} (own)"),
                        _ => name.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        print_fields(&[
            ("email", field(me, "email")),
            ("name", field(me, "display_name")),
            ("role", field(me, "role")),
            ("groups", field(me, "groups")),
            ("signed in by", field(me, "auth")),
            ("api", client.base().to_string()),
            ("may", capabilities),
        ]);
    });
    Ok(())
}
