//! Durations as configs and flags write them (`"5s"`, `"250ms"`, `"2min"`, `"1h"`) and ages
//! as retention policies write them (`"365d"`): parsed with overflow refused, never wrapped.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

/// Parses `"5s"`, `"250ms"`, `"2min"`, `"1h"`, `"0"`. A value too large for a duration in
/// milliseconds is refused, never wrapped.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let too_large = || format!("duration {text:?} is too large");
    if !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
        && number.parse::<u64>().is_err()
    {
        return Err(too_large());
    }
    let number: u64 = number.parse().map_err(|_| {
        format!("invalid duration {text:?}: expected e.g. \"5s\", \"250ms\", \"2min\"")
    })?;
    let unit_ms: u64 = match unit.trim() {
        "" if number == 0 => 0,
        "ms" => 1,
        "s" => 1000,
        "min" | "m" => 60_000,
        "h" => 3_600_000,
        _ => {
            return Err(format!(
                "invalid duration {text:?}: units are ms, s, min, h"
            ));
        }
    };
    let millis = number.checked_mul(unit_ms).ok_or_else(too_large)?;
    Ok(Duration::from_millis(millis))
}

/// An age such as `"365d"`, `"90d"`, `"12h"`, `"30min"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Age(pub Duration);

/// The oldest cutoff a policy may name: ages beyond this are refused (a cutoff before the
/// year 1 cannot be computed, and a century covers every legal hold).
pub const MAX_AGE_DAYS: u64 = 36_500;

impl Age {
    /// An age of at least a second and at most [`MAX_AGE_DAYS`] days. `"0d"` is refused: it
    /// would make everything old.
    pub fn parse(text: &str) -> Result<Age, String> {
        let trimmed = text.trim();
        let expected = "expected e.g. \"365d\", \"12h\", \"30min\"";
        let duration = if let Some(days) = trimmed.strip_suffix('d') {
            let days = days.trim();
            if !days.is_empty() && days.bytes().all(|b| b.is_ascii_digit()) {
                let days: u64 = days.parse().unwrap_or(u64::MAX);
                Duration::from_secs(days.saturating_mul(86_400))
            } else {
                return Err(format!("invalid age {text:?}: {expected}"));
            }
        } else {
            parse_duration(trimmed).map_err(|message| {
                if message.contains("too large") {
                    message
                } else {
                    format!("invalid age {text:?}: {expected}")
                }
            })?
        };
        if duration < Duration::from_secs(1) {
            return Err(format!(
                "age {text:?} would make every row old enough to remove: give an age of at least 1s"
            ));
        }
        if duration > Duration::from_secs(MAX_AGE_DAYS * 86_400) {
            return Err(format!(
                "age {text:?} is too large: at most {MAX_AGE_DAYS}d (100 years)"
            ));
        }
        Ok(Age(duration))
    }

    /// `365 days`, `1 day`, `12 h`.
    pub fn human(self) -> String {
        let secs = self.0.as_secs();
        if secs >= 86_400 && secs.is_multiple_of(86_400) {
            super::words::count(secs / 86_400, "day")
        } else {
            super::words::human_ms(self.0.as_millis() as u64)
        }
    }
}

impl<'de> Deserialize<'de> for Age {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Age::parse(&text).map_err(serde::de::Error::custom)
    }
}
