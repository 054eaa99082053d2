//! Interoperability checks live in `tests/`; the peers are format oracles only: they say
//! whether what we produce is well formed and whether we read what they produce. They miss
//! checks (sd-jwt-rs, for one, requires `exp` and `iss`), so they never decide what must be
//! rejected.
