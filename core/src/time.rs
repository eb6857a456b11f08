//! Whole-second UTC instants in the one date format TUF metadata uses.

use std::fmt;
use time::{macros::format_description, OffsetDateTime, PrimitiveDateTime};

/// A whole-second UTC instant, written `YYYY-MM-DDTHH:MM:SSZ`.
///
/// Checks never read the clock: callers pass `now` in, so tests inject time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// A date string that is not exactly `YYYY-MM-DDTHH:MM:SSZ`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("date {0:?} is not of the form YYYY-MM-DDTHH:MM:SSZ")]
pub struct DateError(pub String);

impl Timestamp {
    /// From seconds since the Unix epoch.
    pub const fn from_unix(secs: i64) -> Self {
        Timestamp(secs)
    }

    /// Seconds since the Unix epoch.
    pub const fn unix(self) -> i64 {
        self.0
    }

    /// This instant plus `secs` seconds (saturating).
    pub const fn plus_secs(self, secs: i64) -> Self {
        Timestamp(self.0.saturating_add(secs))
    }

    /// Parses exactly `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn parse(s: &str) -> Result<Self, DateError> {
        let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        if s.len() != 20 {
            return Err(DateError(s.to_owned()));
        }
        let dt = PrimitiveDateTime::parse(s, fmt).map_err(|_| DateError(s.to_owned()))?;
        Ok(Timestamp(dt.assume_utc().unix_timestamp()))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        match OffsetDateTime::from_unix_timestamp(self.0) {
            Ok(dt) => match dt.format(fmt) {
                Ok(s) => f.write_str(&s),
                Err(_) => write!(f, "@{}", self.0),
            },
            Err(_) => write!(f, "@{}", self.0),
        }
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Instants for tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::Timestamp;

    /// The instant `s` (RFC 3339 UTC), which a test spells out.
    pub fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = Timestamp::parse("2030-01-02T03:04:05Z").unwrap();
        assert_eq!(t.to_string(), "2030-01-02T03:04:05Z");
        assert_eq!(Timestamp::parse("1970-01-01T00:00:00Z").unwrap().unix(), 0);
    }

    #[test]
    fn refuses_other_forms() {
        for s in [
            "2030-01-02T03:04:05.5Z",
            "2030-01-02T03:04:05+00:00",
            "2030-01-02 03:04:05Z",
            "2030-1-2T03:04:05Z",
            "2030-01-02T03:04:05z",
            "2030-02-30T03:04:05Z",
        ] {
            assert!(Timestamp::parse(s).is_err(), "{s}");
        }
    }
}
