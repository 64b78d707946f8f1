//! Event timeouts: the `timeout="…"` text of an `<event>` and the due time it gives.
//!
//! Spryker hands the text to PHP's date parser, which accepts almost anything and silently turns typos into
//! "now". Kontor keeps Spryker's values but uses a strict grammar (oms.md §2): one or more `<n> <unit>` terms,
//! unit = second|minute|hour|day|week|month, optional plural `s`, optional space between number and unit,
//! terms separated by whitespace. Anything else is an error, reported at load time.

use std::fmt;

use chrono::{DateTime, Duration, Months, Utc};
use thiserror::Error;

/// Why a timeout text does not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TimeoutError {
    #[error("empty timeout")]
    Empty,
    #[error("expected a number at '{0}'")]
    ExpectedNumber(String),
    #[error("number {0} is too large")]
    NumberTooLarge(String),
    #[error("missing unit after {0} (expected second, minute, hour, day, week or month)")]
    MissingUnit(String),
    #[error("unknown unit '{0}' (expected second, minute, hour, day, week or month)")]
    UnknownUnit(String),
}

/// One unit of a timeout term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    /// A calendar month: 31 January + 1 month = 28/29 February (clamped to the month's last day).
    Month,
}

impl TimeUnit {
    fn parse(word: &str) -> Option<TimeUnit> {
        let lower = word.to_ascii_lowercase();
        // The plural `s` is optional, so strip at most one of it before matching.
        let singular = lower.strip_suffix('s').unwrap_or(&lower);
        match singular {
            "second" => Some(TimeUnit::Second),
            "minute" => Some(TimeUnit::Minute),
            "hour" => Some(TimeUnit::Hour),
            "day" => Some(TimeUnit::Day),
            "week" => Some(TimeUnit::Week),
            "month" => Some(TimeUnit::Month),
            _ => None,
        }
    }
}

/// A parsed timeout such as `1 day 12 hours`; keeps its original text for drawing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeout {
    text: String,
    terms: Vec<(u32, TimeUnit)>,
}

impl Timeout {
    /// Parses the timeout grammar of oms.md §2 (`"1 second"`, `"30 minute"`, `"2 hours"`, `"14days"`,
    /// `"1 day 12 hours"`).
    pub fn parse(text: &str) -> Result<Timeout, TimeoutError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(TimeoutError::Empty);
        }
        let mut terms = Vec::new();
        let mut rest = trimmed;
        while !rest.is_empty() {
            let digits_len = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            if digits_len == 0 {
                return Err(TimeoutError::ExpectedNumber(rest.to_owned()));
            }
            let digits = &rest[..digits_len];
            let amount: u32 = digits
                .parse()
                .map_err(|_| TimeoutError::NumberTooLarge(digits.to_owned()))?;
            rest = rest[digits_len..].trim_start();
            let word_len = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
            if word_len == 0 {
                return Err(TimeoutError::MissingUnit(digits.to_owned()));
            }
            let word = &rest[..word_len];
            let unit = TimeUnit::parse(word).ok_or_else(|| TimeoutError::UnknownUnit(word.to_owned()))?;
            terms.push((amount, unit));
            let after_word = &rest[word_len..];
            rest = after_word.trim_start();
            // Terms must be separated by whitespace: "1day2hours" is more likely a typo than intent.
            if !rest.is_empty() && rest.len() == after_word.len() {
                return Err(TimeoutError::ExpectedNumber(rest.to_owned()));
            }
        }
        Ok(Timeout {
            text: trimmed.to_owned(),
            terms,
        })
    }

    /// The moment the timeout expires for an item that entered the source state at `entered_at`.
    ///
    /// Terms apply in the order written. A result beyond chrono's range saturates at the maximum date, which
    /// in practice means "never".
    pub fn due_after(&self, entered_at: DateTime<Utc>) -> DateTime<Utc> {
        let mut due = entered_at;
        for &(amount, unit) in &self.terms {
            let next = match unit {
                TimeUnit::Month => due.checked_add_months(Months::new(amount)),
                fixed => fixed_duration(amount, fixed).and_then(|step| due.checked_add_signed(step)),
            };
            match next {
                Some(value) => due = value,
                None => return DateTime::<Utc>::MAX_UTC,
            }
        }
        due
    }

    /// The original text (trimmed), for diagrams and messages.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The parsed `(amount, unit)` terms in written order.
    pub fn terms(&self) -> &[(u32, TimeUnit)] {
        &self.terms
    }
}

fn fixed_duration(amount: u32, unit: TimeUnit) -> Option<Duration> {
    let amount = i64::from(amount);
    match unit {
        TimeUnit::Second => Duration::try_seconds(amount),
        TimeUnit::Minute => Duration::try_minutes(amount),
        TimeUnit::Hour => Duration::try_hours(amount),
        TimeUnit::Day => Duration::try_days(amount),
        TimeUnit::Week => Duration::try_weeks(amount),
        TimeUnit::Month => None,
    }
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, s).single().expect("valid date")
    }

    #[test]
    fn accepts_the_documented_forms() {
        let start = at(2026, 1, 31, 10, 0, 0);
        let cases = [
            ("1 second", at(2026, 1, 31, 10, 0, 1)),
            ("30 minute", at(2026, 1, 31, 10, 30, 0)),
            ("2 hours", at(2026, 1, 31, 12, 0, 0)),
            ("14days", at(2026, 2, 14, 10, 0, 0)),
            ("1 day 12 hours", at(2026, 2, 1, 22, 0, 0)),
            ("2 weeks", at(2026, 2, 14, 10, 0, 0)),
            ("1 Hour", at(2026, 1, 31, 11, 0, 0)),
            ("  7 days ", at(2026, 2, 7, 10, 0, 0)),
        ];
        for (text, expected) in cases {
            let timeout = Timeout::parse(text).expect(text);
            assert_eq!(timeout.due_after(start), expected, "{text}");
        }
    }

    #[test]
    fn months_are_calendar_months() {
        let timeout = Timeout::parse("1 month").expect("parses");
        assert_eq!(timeout.due_after(at(2026, 1, 31, 8, 0, 0)), at(2026, 2, 28, 8, 0, 0));
        assert_eq!(timeout.due_after(at(2026, 3, 15, 8, 0, 0)), at(2026, 4, 15, 8, 0, 0));
        let mixed = Timeout::parse("1 month 1 day").expect("parses");
        assert_eq!(mixed.due_after(at(2026, 1, 31, 8, 0, 0)), at(2026, 3, 1, 8, 0, 0));
    }

    #[test]
    fn rejects_everything_else() {
        let cases = [
            ("", TimeoutError::Empty),
            ("   ", TimeoutError::Empty),
            ("day", TimeoutError::ExpectedNumber("day".into())),
            ("1", TimeoutError::MissingUnit("1".into())),
            ("1 fortnight", TimeoutError::UnknownUnit("fortnight".into())),
            ("1 dayss", TimeoutError::UnknownUnit("dayss".into())),
            ("1 day, 2 hours", TimeoutError::ExpectedNumber(", 2 hours".into())),
            ("1 day and 2 hours", TimeoutError::ExpectedNumber("and 2 hours".into())),
            ("-1 day", TimeoutError::ExpectedNumber("-1 day".into())),
            ("1.5 days", TimeoutError::MissingUnit("1".into())),
            (
                "99999999999 seconds",
                TimeoutError::NumberTooLarge("99999999999".into()),
            ),
            ("+1 day", TimeoutError::ExpectedNumber("+1 day".into())),
        ];
        for (text, expected) in cases {
            assert_eq!(Timeout::parse(text), Err(expected), "{text:?}");
        }
    }

    #[test]
    fn keeps_the_text_and_saturates_on_overflow() {
        let timeout = Timeout::parse("4000000000 weeks").expect("parses");
        assert_eq!(timeout.text(), "4000000000 weeks");
        assert_eq!(timeout.due_after(at(2026, 1, 1, 0, 0, 0)), DateTime::<Utc>::MAX_UTC);
    }
}
