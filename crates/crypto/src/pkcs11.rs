//! Issuer keys in a hardware security module, through PKCS#11 (`cryptoki`): the same
//! [`Signer`] as a key file, so the issuer code does not know which it has.
//!
//! The module (a `.so`) is loaded at run time; tests use SoftHSM 2. SoftHSM 2.6 has no
//! `CKM_ECDSA_SHA256`, so the message is hashed here and signed with `CKM_ECDSA`, which
//! every module has; the token returns raw `r || s`, the form JOSE and COSE use.

use std::path::Path;
use std::sync::Mutex;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use crate::{Algorithm, CryptoError, Signer, VerifyingKey, sha256};

/// DER of the P-256 curve OID (1.2.840.10045.3.1.7), the `CKA_EC_PARAMS` of our keys.
const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

fn step(what: &'static str) -> impl Fn(cryptoki::error::Error) -> CryptoError {
    move |e| CryptoError::Pkcs11(format!("{what}: {e}"))
}

/// An ES256 key held by a PKCS#11 token, found by its label. Signing holds one logged-in
/// session, one signature at a time. A module is initialised once per process: open each
/// key once and share the signer (it is `Sync`), and several keys of one token together
/// ([`Pkcs11Signer::open_keys`]); the module is finalised when the last of them is dropped.
pub struct Pkcs11Signer {
    session: Mutex<Session>,
    key: ObjectHandle,
    verifying: VerifyingKey,
    // Kept alive for the session; finalised when dropped.
    _context: Pkcs11,
}

impl std::fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Signer")
            .field("public", &self.verifying)
            .finish_non_exhaustive()
    }
}

/// Loads `module` and finds the slot whose token is labelled `token` (slot ids change when a
/// token is initialised, labels do not).
pub fn open_token(module: &Path, token: &str) -> Result<(Pkcs11, Slot), CryptoError> {
    let context = Pkcs11::new(module).map_err(step("loading the module"))?;
    context
        .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(step("initialising the module"))?;
    let slots = context
        .get_slots_with_token()
        .map_err(step("listing the slots"))?;
    for slot in slots {
        let info = context
            .get_token_info(slot)
            .map_err(step("reading a token"))?;
        if info.label().trim_end() == token {
            return Ok((context, slot));
        }
    }
    Err(CryptoError::Pkcs11(format!("no token labelled {token:?}")))
}

/// Writes a SoftHSM 2 configuration at `conf` whose token folder (`tokens/` beside it) is
/// new and empty: a fresh store for a test or a demo (SoftHSM reads the file named by
/// `SOFTHSM2_CONF` when the module is loaded). Any tokens stored there before are deleted.
pub fn fresh_softhsm_store(conf: &Path) -> std::io::Result<()> {
    let dir = conf
        .parent()
        .ok_or_else(|| std::io::Error::other("the configuration path has no folder"))?;
    let tokens = dir.join("tokens");
    match std::fs::remove_dir_all(&tokens) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    std::fs::create_dir_all(&tokens)?;
    std::fs::write(
        conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
}

/// Initialises the first uninitialised token of `module` with `label` and sets its user
/// PIN: the set-up of a fresh SoftHSM store (a production HSM is initialised by its own
/// ceremony). Each PIN goes only to the module.
pub fn init_token(
    module: &Path,
    label: &str,
    so_pin: &str,
    user_pin: &str,
) -> Result<(), CryptoError> {
    {
        let context = Pkcs11::new(module).map_err(step("loading the module"))?;
        context
            .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .map_err(step("initialising the module"))?;
        let mut free = None;
        for slot in context
            .get_slots_with_token()
            .map_err(step("listing the slots"))?
        {
            let info = context
                .get_token_info(slot)
                .map_err(step("reading a token"))?;
            if !info.token_initialized() {
                free = Some(slot);
                break;
            }
        }
        let slot = free.ok_or_else(|| CryptoError::Pkcs11("no uninitialised token".into()))?;
        context
            .init_token(slot, &AuthPin::new(so_pin.into()), label)
            .map_err(step("initialising the token"))?;
    }
    // Slot ids change after initialisation: find the token again by its label.
    let (context, slot) = open_token(module, label)?;
    let session = context
        .open_rw_session(slot)
        .map_err(step("opening a session"))?;
    session
        .login(UserType::So, Some(&AuthPin::new(so_pin.into())))
        .map_err(step("logging in as security officer"))?;
    session
        .init_pin(&AuthPin::new(user_pin.into()))
        .map_err(step("setting the user PIN"))?;
    Ok(())
}

impl Pkcs11Signer {
    /// The private key labelled `key` on the token labelled `token`, logged in as the user.
    pub fn open(module: &Path, token: &str, pin: &str, key: &str) -> Result<Self, CryptoError> {
        let mut opened = Self::open_keys(module, token, pin, &[key])?;
        opened
            .pop()
            .ok_or_else(|| CryptoError::Pkcs11(format!("no private key labelled {key:?}")))
    }

    /// The private keys labelled `keys` on the token labelled `token`, in that order: one
    /// context and one login for all of them (an authority's current document signer and
    /// its successors), each key with a session of its own.
    pub fn open_keys(
        module: &Path,
        token: &str,
        pin: &str,
        keys: &[&str],
    ) -> Result<Vec<Self>, CryptoError> {
        let (context, slot) = open_token(module, token)?;
        let mut opened = Vec::with_capacity(keys.len());
        for (n, key) in keys.iter().enumerate() {
            let session = context
                .open_ro_session(slot)
                .map_err(step("opening a session"))?;
            // The login is the token's for the whole application: once is enough.
            if n == 0 {
                session
                    .login(UserType::User, Some(&AuthPin::new(pin.into())))
                    .map_err(step("logging in"))?;
            }
            let find = |class| {
                session
                    .find_objects(&[
                        Attribute::Class(class),
                        Attribute::Label(key.as_bytes().to_vec()),
                    ])
                    .map_err(step("finding the key"))
            };
            let private = *find(ObjectClass::PRIVATE_KEY)?
                .first()
                .ok_or_else(|| CryptoError::Pkcs11(format!("no private key labelled {key:?}")))?;
            let public = *find(ObjectClass::PUBLIC_KEY)?
                .first()
                .ok_or_else(|| CryptoError::Pkcs11(format!("no public key labelled {key:?}")))?;
            let verifying = public_key(&session, public)?;
            opened.push(Self {
                session: Mutex::new(session),
                key: private,
                verifying,
                _context: context.clone(),
            });
        }
        Ok(opened)
    }

    /// Generates a P-256 key pair labelled `key` on the token (sensitive, never
    /// extractable), for setting up an issuer; then opens it.
    pub fn generate(module: &Path, token: &str, pin: &str, key: &str) -> Result<Self, CryptoError> {
        {
            let (context, slot) = open_token(module, token)?;
            let session = context
                .open_rw_session(slot)
                .map_err(step("opening a session"))?;
            session
                .login(UserType::User, Some(&AuthPin::new(pin.into())))
                .map_err(step("logging in"))?;
            let label = Attribute::Label(key.as_bytes().to_vec());
            session
                .generate_key_pair(
                    &Mechanism::EccKeyPairGen,
                    &[
                        Attribute::Token(true),
                        Attribute::KeyType(KeyType::EC),
                        Attribute::EcParams(P256_PARAMS.to_vec()),
                        Attribute::Verify(true),
                        label.clone(),
                    ],
                    &[
                        Attribute::Token(true),
                        Attribute::Private(true),
                        Attribute::Sensitive(true),
                        Attribute::Extractable(false),
                        Attribute::Sign(true),
                        label,
                    ],
                )
                .map_err(step("generating the key pair"))?;
        }
        Self::open(module, token, pin, key)
    }
}

/// The public key from `CKA_EC_POINT`: a DER OCTET STRING around `04 || x || y` (some
/// modules give the bare point).
fn public_key(session: &Session, handle: ObjectHandle) -> Result<VerifyingKey, CryptoError> {
    let attributes = session
        .get_attributes(handle, &[AttributeType::EcPoint])
        .map_err(step("reading the public key"))?;
    let Some(Attribute::EcPoint(point)) = attributes.into_iter().next() else {
        return Err(CryptoError::Pkcs11("the public key has no EC point".into()));
    };
    let raw = match point.as_slice() {
        [0x04, 0x41, rest @ ..] if rest.len() == 65 => rest,
        bare => bare,
    };
    VerifyingKey::from_sec1(Algorithm::Es256, raw)
}

impl Signer for Pkcs11Signer {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Es256
    }

    fn verifying_key(&self) -> &VerifyingKey {
        &self.verifying
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let digest = sha256(message);
        let session = self
            .session
            .lock()
            .map_err(|_| CryptoError::SigningFailed)?;
        let signature = session
            .sign(&Mechanism::Ecdsa, self.key, &digest)
            .map_err(|_| CryptoError::SigningFailed)?;
        if signature.len() != 64 {
            return Err(CryptoError::SigningFailed);
        }
        Ok(signature)
    }
}
