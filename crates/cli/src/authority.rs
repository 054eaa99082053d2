//! `eid authority serve|check`: the issuing authority as a service, from a configuration file
//! (see `eid_authority::config` for its settings and environment overrides).

use std::io::Write;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use eid_authority::config::AuthorityConfig;
use eid_authority::{Authority, admin_router, public_router};
use eid_core::{Clock, OsRandom, Random, SystemClock};
use eid_serve::Limits;
use eid_store::Store;
use eid_trust::VerifiedTrustList;

use crate::Outcome;
use crate::credential::{load_jwks, read};

/// The admin listener's default connection limit: its clients are a few internal systems,
/// and with the public listener's 512 the two stay well under a 1,024 open-file limit.
const ADMIN_MAX_CONNECTIONS: NonZeroU32 = match NonZeroU32::new(128) {
    Some(max) => max,
    None => NonZeroU32::MIN,
};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the authority: the public listener (OpenID4VCI, status lists, events) and the
    /// admin listener (counter enrolment, lifecycle, audit), until interrupted
    Serve {
        /// The configuration file (TOML)
        #[arg(
            long,
            env = "EID_AUTHORITY_CONFIG",
            default_value = "eid-data/authority.toml"
        )]
        config: PathBuf,
        /// Connections the public listener holds open at once; beyond them it stops
        /// accepting until one closes (keep the sum of both listeners' under the process's
        /// open-file limit)
        #[arg(
            long,
            env = "EID_AUTHORITY_MAX_CONNECTIONS",
            default_value_t = Limits::DEFAULT_MAX_CONNECTIONS
        )]
        max_connections: NonZeroU32,
        /// The same for the admin listener (counter desks, the hotline, the registry, the
        /// wallet providers' event streams)
        #[arg(
            long,
            env = "EID_AUTHORITY_ADMIN_MAX_CONNECTIONS",
            default_value_t = ADMIN_MAX_CONNECTIONS
        )]
        admin_max_connections: NonZeroU32,
    },
    /// Check a configuration: read it, open the issuer key, verify the trust list and
    /// connect to (and migrate) the database, then exit
    Check {
        /// The configuration file (TOML)
        #[arg(
            long,
            env = "EID_AUTHORITY_CONFIG",
            default_value = "eid-data/authority.toml"
        )]
        config: PathBuf,
    },
    /// Back up the authority's database while it serves: each SQLite partition copied
    /// consistently into a new folder (PostgreSQL: pg_dump, see docs/authority.md)
    Backup {
        /// The configuration file (TOML)
        #[arg(
            long,
            env = "EID_AUTHORITY_CONFIG",
            default_value = "eid-data/authority.toml"
        )]
        config: PathBuf,
        /// A folder that does not exist yet
        #[arg(long)]
        out: PathBuf,
    },
    /// After restoring the database from a backup, before serving again: seal the status
    /// list shards so that no index a credential issued after the backup may hold is handed
    /// out again; issuance moves to fresh shards past --skip-shards more
    Restored {
        /// The configuration file (TOML)
        #[arg(
            long,
            env = "EID_AUTHORITY_CONFIG",
            default_value = "eid-data/authority.toml"
        )]
        config: PathBuf,
        /// Shards to leave unused past the highest the backup knows: more than were opened
        /// between the backup and the loss (the highest shard verifiers have fetched,
        /// /status/N, minus the backup's, tells)
        #[arg(long)]
        skip_shards: u64,
    },
}

pub fn run(command: Command) -> anyhow::Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match command {
        Command::Serve {
            config,
            max_connections,
            admin_max_connections,
        } => runtime.block_on(async {
            eid_serve::init_logs();
            serve(
                &config,
                Limits::default().with_max_connections(max_connections),
                Limits::default().with_max_connections(admin_max_connections),
            )
            .await
        }),
        Command::Backup { config, out } => runtime.block_on(async {
            let config = AuthorityConfig::load(&config, &|name| std::env::var(name).ok())?;
            if out.exists() {
                anyhow::bail!("{} exists already: back up into a new folder", out.display());
            }
            // The residents' records and the pseudonym key: the owner's alone.
            let mut folder = std::fs::DirBuilder::new();
            folder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut folder, 0o700);
            folder
                .create(&out)
                .with_context(|| format!("could not create {}", out.display()))?;
            let store = Store::connect(&config.database_url)
                .await
                .context("the database")?;
            let written = store.backup_into(&out).await;
            store.close().await;
            let written = written.context("the backup (the folder holds only what was written before it failed: not a backup)")?;
            #[cfg(unix)]
            for path in &written {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                    .with_context(|| format!("could not restrict {}", path.display()))?;
            }
            crate::print_json(&serde_json::json!({
                "partitions": written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
                "keys": "not included: copy the key files, or keep the HSM's own backup (docs/authority.md)",
            }))?;
            Ok(Outcome::Ok)
        }),
        Command::Restored {
            config,
            skip_shards,
        } => runtime.block_on(async {
            if skip_shards == 0 {
                anyhow::bail!("--skip-shards must be at least 1");
            }
            let config = AuthorityConfig::load(&config, &|name| std::env::var(name).ok())?;
            let store = Store::connect(&config.database_url)
                .await
                .context("the database")?;
            let size = config.shard_size.unwrap_or(1 << 17);
            let first = store.seal_for_restore(skip_shards, size).await;
            store.close().await;
            crate::print_json(&serde_json::json!({
                "sealed": true,
                "next_shard": first.context("sealing the status list shards")?,
            }))?;
            Ok(Outcome::Ok)
        }),
        Command::Check { config } => runtime.block_on(async {
            let (authority, _) = open(&config).await?;
            authority.store().close().await;
            let mut out = std::io::stdout().lock();
            writeln!(out, "configuration {} is usable", config.display())?;
            Ok(Outcome::Ok)
        }),
    }
}

/// Everything the configuration names, opened and checked.
async fn open(path: &Path) -> anyhow::Result<(Authority, AuthorityConfig)> {
    let env = |name: &str| std::env::var(name).ok();
    let config = AuthorityConfig::load(path, &env)?;
    let clock = SystemClock;
    let now = clock.now();
    let random = OsRandom;
    let store = Store::connect(&config.database_url)
        .await
        .context("the database")?;
    // Unless configured, the pseudonym key is the store's: every replica and restart
    // pseudonymises alike, so audit subjects and rate limits hold across them.
    let mut fresh = [0u8; 32];
    random
        .fill(&mut fresh)
        .map_err(|_| anyhow::anyhow!("the random source failed"))?;
    let key = store
        .shared_key("pseudonym", fresh)
        .await
        .context("the database")?;
    let settings = config.settings(key)?;
    let signers = config.document_signers(now)?;
    let anchors = load_jwks(&config.trust_anchors)?;
    let trust = VerifiedTrustList::read(&read(&config.trust_list)?, &anchors, now, None)
        .with_context(|| format!("the trust list {}", config.trust_list.display()))?;
    let refused = signers.refused_by(&trust, now);
    if !refused.is_empty() {
        let problems: Vec<String> = refused.into_iter().map(|(_, p)| p).collect();
        anyhow::bail!(
            "verifiers would refuse what this authority signs: {}",
            problems.join("; ")
        );
    }
    let mut authority = Authority::new(
        settings,
        store,
        signers,
        trust,
        Arc::new(clock),
        Arc::new(random),
    );
    if let Some(proofing) = config.remote_proofing()? {
        authority = authority.with_remote_proofing(proofing);
    }
    // NATS is reached in the background: a service whose broker is down starts, keeps its
    // events in the outbox and says so at `/ready` until the broker answers.
    if let Some(nats) = &config.nats {
        authority = authority.with_nats(nats.clone());
    }
    Ok((authority, config))
}

async fn serve(
    path: &Path,
    public_limits: Limits,
    admin_limits: Limits,
) -> anyhow::Result<Outcome> {
    let (authority, config) = open(path).await?;
    let authority = Arc::new(authority);
    let public = tokio::net::TcpListener::bind(&config.public_listen)
        .await
        .with_context(|| format!("listening on {}", config.public_listen))?;
    let admin = tokio::net::TcpListener::bind(&config.admin_listen)
        .await
        .with_context(|| format!("listening on {}", config.admin_listen))?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "eid authority {}: public listener on http://{}, admin listener on http://{} ({} store)",
            authority.settings().issuer_url,
            public.local_addr()?,
            admin.local_addr()?,
            authority.store().backend_name(),
        )?;
        out.flush()?;
    }
    let shutdown = || async {
        let _ = tokio::signal::ctrl_c().await;
    };
    tokio::join!(
        eid_serve::serve(
            public,
            public_router(authority.clone()),
            public_limits,
            shutdown()
        ),
        eid_serve::serve(
            admin,
            admin_router(authority.clone()),
            admin_limits,
            shutdown()
        ),
    );
    authority.store().close().await;
    Ok(Outcome::Ok)
}
