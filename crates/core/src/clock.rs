//! Injected time. Everything that depends on "now" takes a [`Clock`].

use time::{Date, OffsetDateTime, UtcOffset};

/// China Standard Time (UTC+8), in which birthdays, card dates and ages are counted.
pub const CHINA_STANDARD_TIME: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => UtcOffset::UTC,
};

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> OffsetDateTime;

    /// Today's calendar date in China Standard Time, the date that ages and card validity
    /// are counted in.
    fn today(&self) -> Date {
        self.now().to_offset(CHINA_STANDARD_TIME).date()
    }
}

/// The system's real-time clock. Use it only at the edge of a program (`main`, a service's
/// state); everything below takes `&dyn Clock`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place that reads the system clock"
    )]
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock stopped at one instant, for tests and for reproducible runs (`--as-of`).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub OffsetDateTime);

impl FixedClock {
    /// A clock stopped at noon, China Standard Time, of `date`.
    pub fn at_date(date: Date) -> Self {
        Self(
            date.with_hms(12, 0, 0)
                .unwrap_or(date.midnight())
                .assume_offset(CHINA_STANDARD_TIME),
        )
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    #[test]
    fn today_is_counted_in_china_standard_time() {
        // 16:30 UTC on 31 December is already 1 January in Beijing.
        let clock = FixedClock(datetime!(2025-12-31 16:30 UTC));
        assert_eq!(clock.today(), date!(2026 - 01 - 01));
    }

    #[test]
    fn fixed_clock_at_date_keeps_the_date() {
        assert_eq!(
            FixedClock::at_date(date!(2024 - 02 - 29)).today(),
            date!(2024 - 02 - 29)
        );
    }
}
