//! The `gatehouse` command line: the clap tree and what every command
//! shares ([`Ctx`]: output mode, credentials, the API client).
//!
//! Two kinds of command:
//!
//! * **local** (`serve`, `check`, `plugins describe`, `tokens generate`):
//!   work on a config file or a `.wasm` file, need no running gateway;
//! * **online** (everything else): call the REST API (`docs/api.md`) at
//!   `--url` / `GATEHOUSE_URL` / the saved URL / `http://127.0.0.1:8080`,
//!   with the bearer token from `--token` / `GATEHOUSE_TOKEN` / the
//!   credentials file written by `gatehouse login` ([`config`]).
//!
//! People get tables; `--json` prints the API's JSON as is (pretty), for
//! scripts. Any failure — an API error (its code and message), an
//! unreachable API, bad input — is one `error: …` line on stderr and exit
//! status 1. Secrets are never taken as plain command-line values (they
//! would land in shell history and `ps`): passwords come from stdin or a
//! reference, tokens are shown once, when created.

mod audit;
mod auth;
pub mod client;
pub mod config;
mod connections;
mod exec;
mod groups;
mod input;
mod local;
pub mod output;
mod plugins;
mod resources;
mod reviews;
mod sessions;
mod tokens;
mod users;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use client::Client;
use output::Output;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "An access gateway whose policy decisions are made by sandboxed WebAssembly plugins",
    after_help = "Manage a running gateway: `gatehouse login`, then e.g. `gatehouse connections ls`.\n\
                  Every online command takes --json for scripts."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// The Gatehouse API (default: the saved one, else http://127.0.0.1:8080).
    #[arg(long, global = true, env = "GATEHOUSE_URL", value_name = "URL")]
    pub url: Option<String>,
    /// Access token (`ghat_…`) instead of the saved one; also GATEHOUSE_TOKEN.
    /// Prefer the environment or `gatehouse login`: arguments show in `ps`.
    #[arg(long, global = true, value_name = "TOKEN")]
    pub token: Option<String>,
    /// PEM CA bundle to verify an https API with (default: public roots).
    #[arg(long, global = true, env = "GATEHOUSE_CA_FILE", value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Allow plain http:// to a host other than localhost (sends the token in clear).
    #[arg(long, global = true)]
    pub insecure_http: bool,
    /// Print the API's JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve {
        /// Configuration file. Without one, the gateway starts on its
        /// embedded defaults (state in ./.gatehouse, no connections yet).
        #[arg(long, short, env = "GATEHOUSE_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Load a configuration file and every plugin, validate every binding,
    /// list what it declares, and exit: non-zero with the first problem.
    Check {
        #[arg(long, short, env = "GATEHOUSE_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Save the API URL and an access token for the next commands.
    Login(auth::LoginArgs),
    /// Forget the saved token (and revoke it if `login --oidc` made it).
    Logout(auth::LogoutArgs),
    /// Who the token belongs to and what their role may do.
    Whoami,
    /// Databases and services (connections are their roles).
    #[command(subcommand, visible_alias = "resource")]
    Resources(resources::Command),
    /// Connections (`resource.role`): what users connect to.
    #[command(subcommand, visible_alias = "connection")]
    Connections(connections::Command),
    /// Plugin components and the plugins enabled on connections.
    #[command(subcommand, visible_alias = "plugin")]
    Plugins(plugins::Command),
    /// Users (admins).
    #[command(subcommand, visible_alias = "user")]
    Users(users::Command),
    /// Groups (admins).
    #[command(subcommand, visible_alias = "group")]
    Groups(groups::Command),
    /// Access tokens: the API bearer and the database password.
    #[command(subcommand, visible_alias = "token")]
    Tokens(tokens::Command),
    /// Recorded sessions and their queries.
    #[command(subcommand, visible_alias = "session")]
    Sessions(sessions::Command),
    /// Reviews: list, show, approve, reject, revoke, request access.
    #[command(subcommand, visible_alias = "review")]
    Reviews(reviews::Command),
    /// Run SQL through a connection's plugins on your behalf.
    Exec(exec::ExecArgs),
    /// The audit log (admins).
    #[command(subcommand)]
    Audit(audit::Command),
}

/// What a command runs with.
pub struct Ctx {
    pub out: Output,
    global: Global,
}

impl Ctx {
    pub fn new(global: Global) -> Self {
        Ctx {
            out: Output { json: global.json },
            global,
        }
    }

    /// The saved credentials (empty when there are none).
    pub fn saved(&self) -> anyhow::Result<config::Credentials> {
        config::Credentials::load(&config::path()?)
    }

    /// The API URL: flag or environment, the saved one, the default.
    pub fn url(&self) -> anyhow::Result<String> {
        if let Some(url) = self.global.url.as_ref().filter(|u| !u.is_empty()) {
            return Ok(url.clone());
        }
        Ok(self
            .saved()?
            .url
            .unwrap_or_else(|| config::DEFAULT_URL.to_string()))
    }

    /// The token given by flag or environment (not the saved one).
    pub fn given_token(&self) -> Option<String> {
        self.global
            .token
            .clone()
            .or_else(|| std::env::var("GATEHOUSE_TOKEN").ok())
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
    }

    /// A client for `url` with `token`.
    pub fn client_for(&self, url: &str, token: Option<String>) -> anyhow::Result<Client> {
        let base = client::base_url(url, self.global.insecure_http)?;
        Ok(Client::new(base, token, self.global.ca_file.as_deref())?)
    }

    /// A client with the caller's token; an error saying how to log in
    /// when there is none.
    pub fn client(&self) -> anyhow::Result<Client> {
        let url = self.url()?;
        let token = match self.given_token() {
            Some(token) => token,
            None => self.saved()?.token.with_context(|| {
                format!("not logged in: run `gatehouse login --url {url}` or set GATEHOUSE_TOKEN")
            })?,
        };
        self.client_for(&url, Some(token))
    }
}

/// Run one command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let ctx = Ctx::new(cli.global);
    match cli.command {
        Command::Serve { config } => local::serve(config.as_ref()).await,
        Command::Check { config } => local::check(&ctx, config.as_ref()).await,
        Command::Login(args) => auth::login(&ctx, args).await,
        Command::Logout(args) => auth::logout(&ctx, args).await,
        Command::Whoami => auth::whoami(&ctx).await,
        Command::Resources(command) => resources::run(&ctx, command).await,
        Command::Connections(command) => connections::run(&ctx, command).await,
        Command::Plugins(command) => plugins::run(&ctx, command).await,
        Command::Users(command) => users::run(&ctx, command).await,
        Command::Groups(command) => groups::run(&ctx, command).await,
        Command::Tokens(command) => tokens::run(&ctx, command).await,
        Command::Sessions(command) => sessions::run(&ctx, command).await,
        Command::Reviews(command) => reviews::run(&ctx, command).await,
        Command::Exec(args) => exec::run(&ctx, args).await,
        Command::Audit(command) => audit::run(&ctx, command).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }
}
