//! `eid pki` and `eid keys`: issuer certificates and holder keys.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use eid_core::{Clock, OsRandom, SystemClock};
use eid_crypto::x509::{self, AuthorityPki, TrustedIaca};
use eid_crypto::{Algorithm, Signer, SigningKey};
use time::{Duration, OffsetDateTime};

use crate::Outcome;

#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Create an IACA root and a document-signer certificate with their keys (ISO 18013-5 Annex B)
    Init {
        /// Folder to write iaca.pem, iaca.key.pem, ds.pem, ds.key.pem and ds.jwk into
        #[arg(long)]
        out: PathBuf,
        /// The issuing authority's name, in the certificates' organisation field
        #[arg(long, default_value = "eid demo authority")]
        organization: String,
        /// ISO 3166 alpha-2 country code
        #[arg(long, default_value = "CN")]
        country: String,
        /// Where the authority can be reached (issuer alternative name); the CRL is published below it
        #[arg(long, default_value = "https://eid.example.cn/authority")]
        uri: String,
        /// The keys' algorithm: p256 (ES256), or sm2 (SM2 with SM3, a deployment's national
        /// algorithms; the authority's signer entry then says algorithm = "sm2")
        #[arg(long, value_enum, default_value_t = KeyAlgorithm::P256)]
        algorithm: KeyAlgorithm,
        /// Replace files that already exist in the folder
        #[arg(long)]
        force: bool,
    },
    /// Create a relying party's reader certificate and key (ISO 18013-5 reader authentication),
    /// to register with `eid trust add-relying-party --certificate`
    Reader {
        /// Folder to write reader.pem and reader.key.pem into
        #[arg(long)]
        out: PathBuf,
        /// The relying party's name, in the certificate's organisation and common name
        #[arg(long)]
        name: String,
        /// ISO 3166 alpha-2 country code
        #[arg(long, default_value = "CN")]
        country: String,
        /// Where the relying party can be reached
        #[arg(long)]
        uri: String,
        /// Days of validity (at most 457)
        #[arg(long, default_value_t = 365)]
        days: i64,
        /// Replace files that already exist in the folder
        #[arg(long)]
        force: bool,
    },
    /// Create the next document signer under the IACA of `eid pki init`, to take over from the
    /// current one before it ends: list it under `[[successors]]` in the authority's
    /// configuration, and its JWK as an offline key of the issuer in the trust list
    Successor {
        /// The folder `eid pki init` wrote (iaca.pem and iaca.key.pem are read from it)
        #[arg(long)]
        pki: PathBuf,
        /// The new files' name: NAME.pem, NAME.key.pem and NAME.jwk, written in the same folder
        #[arg(long)]
        name: String,
        /// Its first day (RFC 3339, e.g. 2027-09-01T00:00:00Z); issuance moves to it then.
        /// Default: now
        #[arg(long)]
        from: Option<String>,
        /// Days of validity (at most 457; ISO 18013-5 Annex B)
        #[arg(long, default_value_t = 365)]
        days: i64,
        /// The key is in an HSM: certify this public key (SPKI PEM) and write no private key
        #[arg(long)]
        public_key: Option<PathBuf>,
        /// The DS certificate's organisation and common name
        #[arg(long, default_value = "eid demo authority")]
        organization: String,
        /// Where the authority can be reached (issuer alternative name)
        #[arg(long, default_value = "https://eid.example.cn/authority")]
        uri: String,
        /// Replace files that already exist
        #[arg(long)]
        force: bool,
    },
    /// Check a document-signer certificate against the Annex B profile and trusted IACA roots
    Verify {
        /// Trusted IACA root certificates (PEM), comma separated
        #[arg(long, value_delimiter = ',', required = true)]
        trust: Vec<PathBuf>,
        /// The document-signer certificate (PEM)
        ds: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a P-256 holder key: private key as PKCS#8 PEM, public key as SPKI PEM and JWK
    Generate {
        /// The private key (PKCS#8 PEM, written with mode 0600)
        #[arg(long)]
        out: PathBuf,
        /// The public key (SPKI PEM)
        #[arg(long)]
        public: PathBuf,
        /// The public key as a JWK too
        #[arg(long)]
        jwk: Option<PathBuf>,
        /// Replace files that already exist
        #[arg(long)]
        force: bool,
    },
}

/// Writes `contents` to `path`; refuses to replace a file unless `force`; private files get
/// mode 0600 from creation on.
/// Refuses before anything is written if any of `paths` exists (unless `force`), so that a
/// refused command leaves no half-replaced set of files behind.
pub(crate) fn refuse_existing(paths: &[&Path], force: bool) -> anyhow::Result<()> {
    if let Some(existing) = paths.iter().find(|p| !force && p.exists()) {
        anyhow::bail!(
            "{} exists already; pass --force to replace it",
            existing.display()
        );
    }
    Ok(())
}

pub(crate) fn write_file(
    path: &Path,
    contents: &[u8],
    private: bool,
    force: bool,
) -> anyhow::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| {
        if path.exists() && !force {
            format!(
                "{} exists already; pass --force to replace it",
                path.display()
            )
        } else {
            format!("could not create {}", path.display())
        }
    })?;
    file.write_all(contents)
        .with_context(|| format!("could not write {}", path.display()))
}

/// Reads trusted IACA roots (PEM files), each checked against the IACA profile at `now`:
/// P-256 or SM2 roots, trusted as what they are because the operator names them (a trust
/// list names the algorithm instead).
pub fn load_roots(paths: &[PathBuf], now: OffsetDateTime) -> anyhow::Result<Vec<TrustedIaca>> {
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("could not read {}", path.display()))?;
            let der = eid_crypto::pem::decode("CERTIFICATE", &text)
                .with_context(|| format!("{} is not a PEM certificate", path.display()))?;
            TrustedIaca::new_allowing(&der, now, OWN_ALGORITHMS)
                .with_context(|| format!("{} is not a usable IACA root", path.display()))
        })
        .collect()
}

pub fn run_pki(command: PkiCommand) -> anyhow::Result<Outcome> {
    match command {
        PkiCommand::Init {
            out,
            organization,
            country,
            uri,
            algorithm,
            force,
        } => init(
            &out,
            &organization,
            &country,
            &uri,
            algorithm.algorithm(),
            force,
        ),
        PkiCommand::Reader {
            out,
            name,
            country,
            uri,
            days,
            force,
        } => reader(&out, &name, &country, &uri, days, force),
        PkiCommand::Successor {
            pki,
            name,
            from,
            days,
            public_key,
            organization,
            uri,
            force,
        } => successor(&Successor {
            pki: &pki,
            name: &name,
            from: from.as_deref(),
            days,
            public_key: public_key.as_deref(),
            organization: &organization,
            uri: &uri,
            force,
        }),
        PkiCommand::Verify { trust, ds } => {
            let now = SystemClock.now();
            let roots = load_roots(&trust, now)?;
            let text = std::fs::read_to_string(&ds)
                .with_context(|| format!("could not read {}", ds.display()))?;
            let der = eid_crypto::pem::decode("CERTIFICATE", &text)?;
            let report = match x509::verify_document_signer(&der, &roots, now) {
                Ok(v) => serde_json::json!({
                    "valid": true,
                    "issued_by": trust.get(v.iaca_index).map(|p| p.display().to_string()),
                    "common_name": v.common_name,
                    "key_thumbprint": v.key.to_jwk().thumbprint(),
                }),
                Err(e) => serde_json::json!({ "valid": false, "reason": e.to_string() }),
            };
            crate::print_json(&report)?;
            Ok(if report["valid"] == true {
                Outcome::Ok
            } else {
                Outcome::Refused
            })
        }
    }
}

/// The algorithm of an authority's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyAlgorithm {
    /// ECDSA on P-256 with SHA-256 (ES256)
    P256,
    /// SM2 with SM3 (GB/T 32918, GB/T 32905)
    Sm2,
}

impl KeyAlgorithm {
    pub(crate) fn algorithm(self) -> Algorithm {
        match self {
            Self::P256 => Algorithm::Es256,
            Self::Sm2 => Algorithm::Sm2Sm3,
        }
    }
}

/// The algorithms an authority's own files may hold.
pub(crate) const OWN_ALGORITHMS: &[Algorithm] = &[Algorithm::Es256, Algorithm::Sm2Sm3];

fn init(
    out: &Path,
    organization: &str,
    country: &str,
    uri: &str,
    algorithm: Algorithm,
    force: bool,
) -> anyhow::Result<Outcome> {
    let names = ["iaca.pem", "iaca.key.pem", "ds.pem", "ds.key.pem", "ds.jwk"];
    let paths: Vec<PathBuf> = names.iter().map(|n| out.join(n)).collect();
    refuse_existing(
        &paths.iter().map(PathBuf::as_path).collect::<Vec<_>>(),
        force,
    )?;
    std::fs::create_dir_all(out).with_context(|| format!("could not create {}", out.display()))?;
    let now = SystemClock
        .now()
        .replace_nanosecond(0)
        .unwrap_or(SystemClock.now());
    // Start a minute back so that a verifier whose clock lags a little accepts at once.
    let start = now - Duration::minutes(1);
    let AuthorityPki {
        iaca_key,
        iaca,
        ds_key,
        ds,
    } = AuthorityPki::generate_for(
        algorithm,
        organization,
        country,
        uri,
        start,
        (3650, 365),
        &OsRandom,
    )?;
    let mut jwk = ds_key.verifying_key().to_jwk();
    jwk.kid = Some(jwk.thumbprint());
    jwk.alg = Some(algorithm.jose_name().into());
    jwk.use_ = Some("sig".into());
    write_file(
        &out.join("iaca.pem"),
        iaca.to_pem().as_bytes(),
        false,
        force,
    )?;
    write_file(
        &out.join("iaca.key.pem"),
        iaca_key.to_pkcs8_pem()?.as_bytes(),
        true,
        force,
    )?;
    write_file(&out.join("ds.pem"), ds.to_pem().as_bytes(), false, force)?;
    write_file(
        &out.join("ds.key.pem"),
        ds_key.to_pkcs8_pem()?.as_bytes(),
        true,
        force,
    )?;
    write_file(
        &out.join("ds.jwk"),
        serde_json::to_string_pretty(&jwk)?.as_bytes(),
        false,
        force,
    )?;
    crate::print_json(&serde_json::json!({
        "out": out.display().to_string(),
        "iaca": { "valid_until": format_time(start + Duration::days(3650)) },
        "ds": { "valid_until": format_time(start + Duration::days(365)), "kid": jwk.kid },
    }))?;
    Ok(Outcome::Ok)
}

fn reader(
    out: &Path,
    name: &str,
    country: &str,
    uri: &str,
    days: i64,
    force: bool,
) -> anyhow::Result<Outcome> {
    let paths = [out.join("reader.pem"), out.join("reader.key.pem")];
    refuse_existing(&[&paths[0], &paths[1]], force)?;
    std::fs::create_dir_all(out).with_context(|| format!("could not create {}", out.display()))?;
    let start = SystemClock.now().replace_nanosecond(0)? - Duration::minutes(1);
    let key = SigningKey::generate()?;
    let certificate = x509::create_reader_certificate(
        &x509::Subject {
            country: country.to_owned(),
            state: None,
            organization: name.to_owned(),
            common_name: name.to_owned(),
        },
        &x509::CertificateTerms {
            not_before: start,
            not_after: start + Duration::days(days),
            issuer_alt_name_uri: uri.to_owned(),
            crl_uri: format!("{}/reader.crl", uri.trim_end_matches('/')),
        },
        &key,
        &OsRandom,
    )?;
    write_file(&paths[0], certificate.to_pem().as_bytes(), false, force)?;
    write_file(&paths[1], key.to_pkcs8_pem()?.as_bytes(), true, force)?;
    crate::print_json(&serde_json::json!({
        "out": out.display().to_string(),
        "reader": { "valid_until": format_time(start + Duration::days(days)) },
    }))?;
    Ok(Outcome::Ok)
}

struct Successor<'a> {
    pki: &'a Path,
    name: &'a str,
    from: Option<&'a str>,
    days: i64,
    public_key: Option<&'a Path>,
    organization: &'a str,
    uri: &'a str,
    force: bool,
}

fn successor(args: &Successor<'_>) -> anyhow::Result<Outcome> {
    if args.name.is_empty()
        || !args
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        anyhow::bail!("--name must be letters, digits, '-' or '_' (it names the files)");
    }
    if args.days < 1 {
        anyhow::bail!("--days must be at least 1");
    }
    let read = |path: &Path| {
        std::fs::read_to_string(path).with_context(|| format!("could not read {}", path.display()))
    };
    let start = match args.from {
        Some(text) => OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .with_context(|| format!("--from {text:?} is not an RFC 3339 time"))?,
        None => SystemClock.now() - Duration::minutes(1),
    }
    .replace_nanosecond(0)?;
    let iaca_pem = read(&args.pki.join("iaca.pem"))?;
    let iaca = x509::CertificateDer(eid_crypto::pem::decode("CERTIFICATE", &iaca_pem)?);
    // The IACA must still be valid when the successor ends, or its chain breaks first.
    let end = start + Duration::days(args.days);
    TrustedIaca::new_allowing(&iaca.0, start, OWN_ALGORITHMS).with_context(|| {
        format!(
            "the IACA in {} is not valid on the successor's first day ({})",
            args.pki.display(),
            format_time(start)
        )
    })?;
    let trusted = TrustedIaca::new_allowing(&iaca.0, end, OWN_ALGORITHMS).with_context(|| {
        format!(
            "the IACA in {} does not cover the successor's last day ({}): roll the IACA over first",
            args.pki.display(),
            format_time(end)
        )
    })?;
    let iaca_key =
        SigningKey::from_pkcs8_pem_allowing(&read(&args.pki.join("iaca.key.pem"))?, OWN_ALGORITHMS)
            .context("the IACA's key (iaca.key.pem)")?;
    // The successor's key is of its IACA's algorithm: a chain is of one.
    let algorithm = trusted.algorithm();
    let files = ["pem", "key.pem", "jwk"].map(|ext| args.pki.join(format!("{}.{ext}", args.name)));
    // With --public-key no key file is written, and none may lie beside the certificate
    // either: an old key there would be taken for the new certificate's.
    let written: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let (key, public) = match args.public_key {
        Some(path) => (
            None,
            eid_crypto::VerifyingKey::from_spki_der_allowing(
                &eid_crypto::pem::decode("PUBLIC KEY", &read(path)?)?,
                &[algorithm],
            )
            .with_context(|| {
                format!(
                    "{} is not a {} public key (SPKI PEM) like the IACA's",
                    path.display(),
                    algorithm.jose_name()
                )
            })?,
        ),
        None => {
            let key = SigningKey::generate_for(algorithm)?;
            let public = key.verifying_key().clone();
            (Some(key), public)
        }
    };
    refuse_existing(&written, args.force)?;
    let country = trusted
        .country()
        .context("the IACA names no country")?
        .to_owned();
    let certificate = x509::create_document_signer(
        &x509::Subject {
            country,
            state: None,
            organization: args.organization.to_owned(),
            common_name: format!("{} DS {}", args.organization, args.name),
        },
        &x509::CertificateTerms {
            not_before: start,
            not_after: end,
            issuer_alt_name_uri: args.uri.to_owned(),
            crl_uri: format!("{}/iaca.crl", args.uri.trim_end_matches('/')),
        },
        &public,
        &iaca,
        &iaca_key,
        &OsRandom,
    )?;
    // Checked as a verifier will, before anything is written: the chain to this IACA (its
    // key is the one that signed), the profile, on the successor's first day.
    x509::verify_document_signer(&certificate.0, std::slice::from_ref(&trusted), start)
        .with_context(|| {
            format!(
                "the certificate made does not verify under {} (is iaca.key.pem the IACA's key?)",
                args.pki.join("iaca.pem").display()
            )
        })?;
    let mut jwk = public.to_jwk();
    jwk.kid = Some(jwk.thumbprint());
    jwk.alg = Some(algorithm.jose_name().into());
    jwk.use_ = Some("sig".into());
    write_file(
        &files[0],
        certificate.to_pem().as_bytes(),
        false,
        args.force,
    )?;
    if let Some(key) = &key {
        write_file(&files[1], key.to_pkcs8_pem()?.as_bytes(), true, args.force)?;
    }
    write_file(
        &files[2],
        serde_json::to_string_pretty(&jwk)?.as_bytes(),
        false,
        args.force,
    )?;
    crate::print_json(&serde_json::json!({
        "certificate": files[0].display().to_string(),
        "key": key.as_ref().map(|_| files[1].display().to_string()),
        "jwk": files[2].display().to_string(),
        "valid_from": format_time(start),
        "valid_until": format_time(end),
        "kid": jwk.kid,
        "next": "list it under [[successors]] in the authority's configuration, and list its JWK beside the current one as the issuer's offline keys (eid trust add-issuer --replace --offline-key ds.jwk --offline-key NAME.jwk)",
    }))?;
    Ok(Outcome::Ok)
}

fn format_time(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub fn run_keys(command: KeysCommand) -> anyhow::Result<Outcome> {
    let KeysCommand::Generate {
        out,
        public,
        jwk,
        force,
    } = command;
    let mut paths = vec![out.as_path(), public.as_path()];
    paths.extend(jwk.as_deref());
    refuse_existing(&paths, force)?;
    let key = SigningKey::generate()?;
    write_file(&out, key.to_pkcs8_pem()?.as_bytes(), true, force)?;
    write_file(
        &public,
        key.verifying_key().to_spki_pem().as_bytes(),
        false,
        force,
    )?;
    if let Some(path) = &jwk {
        let json = serde_json::to_string_pretty(&key.verifying_key().to_jwk())?;
        write_file(path, json.as_bytes(), false, force)?;
    }
    crate::print_json(&serde_json::json!({
        "private_key": out.display().to_string(),
        "public_key": public.display().to_string(),
        "thumbprint": key.verifying_key().to_jwk().thumbprint(),
    }))?;
    Ok(Outcome::Ok)
}
