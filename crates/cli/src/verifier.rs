//! `eid verifier serve`: the verifier service of one relying party (`eid_verifier::service`):
//! offline QR codes, in-person exchanges and OpenID4VP requests over HTTP, with its status
//! lists kept fresh and the authority's pushes followed. With `--wallet-listen` the two routes
//! wallets call listen apart from the requester's.

use std::io::Write;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use eid_core::{Clock, OsRandom, SystemClock};
use eid_crypto::{Signer, SigningKey};
use eid_serve::Limits;
use eid_trust::VerifiedTrustList;
use eid_verifier::Verifier;
use eid_verifier::service::{
    Service, ServiceConfig, keep_fresh, requester_router, router, wallet_router,
};

use crate::Outcome;
use crate::credential::{load_jwks, read};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the verifier service of one relying party (HTTP; Ctrl-C stops it)
    Serve {
        /// Where to listen: every route, or with --wallet-listen the requester's (the desk's
        /// page, the bank's back end, the operator: verify, requests and their results,
        /// the trust list, health, readiness, metrics)
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: String,
        /// Where the routes wallets call listen apart (GET /vp/request/{id}, POST
        /// /vp/response, and GET /health); --public-url names what reaches them (and the
        /// origin of the page that asks through the Digital Credentials API, served with
        /// the requester's routes)
        #[arg(long, requires = "public_url")]
        wallet_listen: Option<String>,
        /// The external base URL (default: http:// and the listening address)
        #[arg(long)]
        public_url: Option<String>,
        /// The relying party's id in the trust list
        #[arg(long)]
        relying_party: String,
        /// The signed trust list to start with (newer ones: PUT /trust-list)
        #[arg(long)]
        trust_list: PathBuf,
        /// The national root key (JWK); repeat for several
        #[arg(long, required = true)]
        trust_jwk: Vec<PathBuf>,
        /// The relying party's reader / request-signing key (PKCS#8 PEM): in person and online
        #[arg(long, requires = "reader_certificate")]
        reader_key: Option<PathBuf>,
        /// Its certificate (PEM), as registered in the trust list
        #[arg(long, requires = "reader_key")]
        reader_certificate: Option<PathBuf>,
        /// A status list to keep fresh (http:// URI); repeat for several
        #[arg(long)]
        status_list_uri: Vec<String>,
        /// An authority's status lists to follow, every shard: the base its lists hang
        /// off (`http://authority/status/`, shards `0`, `1`, … up to the first not
        /// published); repeat for several authorities
        #[arg(long)]
        status_shards: Vec<String>,
        /// A status list token to hold from the start (JWT or CWT file), for a desk that
        /// is given its lists rather than fetching them; repeat for several
        #[arg(long)]
        status_list: Vec<PathBuf>,
        /// An authority's event stream to follow (http://…/events); repeat for several
        #[arg(long)]
        events: Vec<String>,
        /// How long an online request may be answered, in seconds
        #[arg(long, default_value_t = 300)]
        request_lifetime: i64,
        /// Connections each listener holds open at once; beyond them it stops accepting until
        /// one closes (keep twice it, with --wallet-listen, under the process's open-file
        /// limit)
        #[arg(
            long,
            env = "EID_VERIFIER_MAX_CONNECTIONS",
            default_value_t = Limits::DEFAULT_MAX_CONNECTIONS
        )]
        max_connections: NonZeroU32,
        /// Keep the offline codes accepted lately in Redis (`redis://host:port/db`), shared
        /// by every replica of this relying party's desks: a code accepted at one is refused
        /// at the others. Without it each process remembers its own
        #[arg(long, env = "EID_VERIFIER_REPLAY_REDIS", hide_env_values = true)]
        replay_redis: Option<String>,
        /// Keep the open online requests in Redis (`redis://host:port/db`), shared by every
        /// replica of this relying party's desks: a request made at one is answered and
        /// collected at any. Sealed with the session key. Without it each process keeps
        /// its own
        #[arg(
            long,
            env = "EID_VERIFIER_SESSIONS_REDIS",
            hide_env_values = true,
            requires = "session_key"
        )]
        sessions_redis: Option<String>,
        /// The key the online requests are sealed with in Redis: 64 hex digits, the same at
        /// every replica (give it by the environment, not on the command line)
        #[arg(long, env = "EID_VERIFIER_SESSION_KEY", hide_env_values = true)]
        session_key: Option<String>,
        /// The face model's folder (`scripts/fetch-proofing-data` puts it in
        /// `$EID_PROOFING_DIR/models`): the desk compares the person in front of it with the
        /// portrait disclosed in person (`"face"` in the request). Needs a build with the
        /// `face` feature. Without it a purpose requiring a face match is refused
        #[arg(long, env = "EID_VERIFIER_FACE_MODELS")]
        face_models: Option<PathBuf>,
        /// The largest distance between two faces taken as the same person
        #[arg(long, default_value_t = 0.6)]
        face_threshold: f64,
        /// The private key (PKCS#8 PEM, P-256) its pairwise pseudonyms are sealed to, whose
        /// public half the trust list registers for it (eid trust set-pseudonym-key):
        /// required when it is registered for a pseudonym
        #[arg(long, env = "EID_VERIFIER_PSEUDONYM_KEY")]
        pseudonym_key: Option<PathBuf>,
    },
}

/// The face model in `dir`, holding faces to `threshold`.
#[cfg(feature = "face")]
fn face_model(
    dir: &std::path::Path,
    threshold: f64,
) -> anyhow::Result<Arc<dyn eid_face::CompareFaces>> {
    Ok(Arc::new(
        eid_face::FaceMatcher::load(dir, threshold).context("--face-models")?,
    ))
}

#[cfg(not(feature = "face"))]
fn face_model(
    _dir: &std::path::Path,
    _threshold: f64,
) -> anyhow::Result<Arc<dyn eid_face::CompareFaces>> {
    anyhow::bail!("--face-models needs a build with the face feature (cargo build --features face)")
}

/// The private half of a relying party's pseudonym key, from `path` (PKCS#8 PEM, P-256).
pub(crate) fn pseudonym_key(
    path: &std::path::Path,
) -> anyhow::Result<eid_crypto::hpke::HpkeRecipient> {
    eid_crypto::hpke::HpkeRecipient::from_pkcs8_pem(&read(path)?).with_context(|| {
        format!(
            "--pseudonym-key {} is not a P-256 PKCS#8 key",
            path.display()
        )
    })
}

/// `verifier` with the pseudonym key at `path`, if given; refused when the key does not fit
/// the trust list (one registered and none given, another, or one the list does not have).
pub(crate) fn with_pseudonym_key(
    mut verifier: Verifier,
    path: Option<&std::path::Path>,
) -> anyhow::Result<Verifier> {
    if let Some(path) = path {
        verifier = verifier.with_pseudonym_key(pseudonym_key(path)?);
    }
    if let Some(problem) = verifier.pseudonym_key_problem() {
        anyhow::bail!(
            "{} (--pseudonym-key, EID_VERIFIER_PSEUDONYM_KEY): {problem}",
            verifier.relying_party()
        );
    }
    Ok(verifier)
}

pub fn run(command: Command) -> anyhow::Result<Outcome> {
    let Command::Serve {
        listen,
        wallet_listen,
        public_url,
        relying_party,
        trust_list,
        trust_jwk,
        reader_key,
        reader_certificate,
        status_list_uri,
        status_shards,
        status_list,
        events,
        request_lifetime,
        max_connections,
        replay_redis,
        sessions_redis,
        session_key,
        face_models,
        face_threshold,
        pseudonym_key,
    } = command;
    eid_serve::init_logs();
    if !(face_threshold > 0.0 && face_threshold < 2.0) {
        anyhow::bail!("--face-threshold must lie between 0 and 2 (dlib's is 0.6)");
    }
    let face = face_models
        .map(|dir| face_model(&dir, face_threshold))
        .transpose()?;

    let now = SystemClock.now();
    let roots = load_jwks(&trust_jwk)?;
    let trust = VerifiedTrustList::read(&read(&trust_list)?, &roots, now, None)
        .with_context(|| format!("{} is not a usable trust list", trust_list.display()))?;
    if trust.list().relying_party(&relying_party).is_none() {
        anyhow::bail!("{relying_party} is not a relying party of this trust list");
    }
    let identity = match (reader_key, reader_certificate) {
        (Some(key), Some(certificate)) => {
            let signer = SigningKey::from_pkcs8_pem(&read(&key)?)
                .with_context(|| format!("{} is not a PKCS#8 key", key.display()))?;
            let der = eid_crypto::pem::decode("CERTIFICATE", &read(&certificate)?)
                .with_context(|| format!("{} is not a PEM certificate", certificate.display()))?;
            Some((Arc::new(signer) as Arc<dyn Signer>, der))
        }
        _ => None,
    };
    let mut verifier = with_pseudonym_key(
        Verifier::new(trust, &relying_party, now),
        pseudonym_key.as_deref(),
    )?;
    if let Some(url) = &replay_redis {
        // The URL is not repeated in the error: it may carry a password.
        let memory = eid_verifier::replay::RedisReplayMemory::new(url, &relying_party)
            .context("--replay-redis / EID_VERIFIER_REPLAY_REDIS")?;
        verifier = verifier.with_replay_memory(Box::new(memory));
    }
    let sessions: Box<dyn eid_verifier::sessions::SessionStore> = match &sessions_redis {
        Some(url) => {
            let key = session_key
                .as_deref()
                .and_then(|hex_key| hex::decode(hex_key.trim()).ok())
                .and_then(|key| <[u8; 32]>::try_from(key).ok())
                .context("--session-key / EID_VERIFIER_SESSION_KEY: 64 hex digits are needed")?;
            Box::new(
                eid_verifier::sessions::RedisSessions::new(url, &relying_party, key)
                    .context("--sessions-redis / EID_VERIFIER_SESSIONS_REDIS")?,
            )
        }
        None => Box::new(eid_verifier::sessions::LocalSessions::default()),
    };
    crate::verify::hold_status_lists(&mut verifier, &status_list, now)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let address = listener.local_addr()?;
        let wallet_listener = match &wallet_listen {
            Some(at) => Some(
                tokio::net::TcpListener::bind(at)
                    .await
                    .with_context(|| format!("listening on {at} (--wallet-listen)"))?,
            ),
            None => None,
        };
        // The URL wallets reach: the wallet listener's when there is one.
        let wallet_address = match &wallet_listener {
            Some(l) => l.local_addr()?,
            None => address,
        };
        let public_url = public_url.unwrap_or_else(|| format!("http://{wallet_address}"));
        let service = Service::with_sessions(
            verifier,
            ServiceConfig {
                public_url: public_url.clone(),
                trust_roots: roots,
                status_lists: status_list_uri,
                status_shards,
                events,
                identity,
                request_lifetime: time::Duration::seconds(request_lifetime.max(10)),
                face,
            },
            sessions,
            Arc::new(SystemClock),
            Arc::new(OsRandom),
        );
        {
            let mut out = std::io::stdout().lock();
            match &wallet_listener {
                None => writeln!(
                    out,
                    "eid verifier for {relying_party} on {public_url} (listening on {address})"
                )?,
                Some(_) => writeln!(
                    out,
                    "eid verifier for {relying_party} on {public_url} (requester listener on {address}, wallet listener on {wallet_address})"
                )?,
            }
            out.flush()?;
        }
        let fresh = tokio::spawn(keep_fresh(service.clone()));
        let limits = Limits::default().with_max_connections(max_connections);
        let shutdown = || async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match wallet_listener {
            None => eid_serve::serve(listener, router(service), limits, shutdown()).await,
            Some(wallet) => {
                tokio::join!(
                    eid_serve::serve(
                        listener,
                        requester_router(service.clone()),
                        limits,
                        shutdown()
                    ),
                    eid_serve::serve(wallet, wallet_router(service), limits, shutdown()),
                );
            }
        }
        fresh.abort();
        Ok(Outcome::Ok)
    })
}
