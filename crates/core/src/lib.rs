//! The foundation of eid: what every other crate shares.
//!
//! - [`clock`] and [`random`]: time and randomness are passed in, never taken from the system
//!   outside this crate (a clippy `disallowed-methods` rule enforces it), so tests pin them.
//! - [`id_number`]: the 18-character resident identity number of GB 11643-1999.
//! - [`region`]: the GB/T 2260 administrative division codes, current and historical, and
//!   the region scopes that acceptance decisions are written in.
//! - [`status`]: the status-list reference both formats carry and the status hook.
//! - [`identity`]: the resident identity card's data set and the attributes derived from it.

pub mod clock;
pub mod ethnicity;
pub mod id_number;
pub mod identity;
pub mod random;
pub mod region;
pub mod status;
pub mod testing;

pub use clock::{Clock, FixedClock, SystemClock};
pub use ethnicity::Ethnicity;
pub use id_number::{IdNumberError, ResidentIdNumber, Sex};
pub use identity::{CardExpiry, DerivedAttributes, IdentityError, Relationship, ResidentCard};
pub use random::{OsRandom, Random};
pub use region::{Level, Region, RegionCode, RegionError, Scope};
