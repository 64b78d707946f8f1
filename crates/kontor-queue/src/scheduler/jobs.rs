//! Job specs: the `[[job]]` entries of `config/jobs.toml`, parsed and validated once at start-up.
//!
//! ```toml
//! [[job]]
//! name = "oms-check-timeouts"      # unique; a-z, 0-9, `-`, `_`, `.`; at most 100 characters
//! schedule = "* * * * *"           # cron (croner syntax), seconds optional: "*/10 * * * * *"
//! timezone = "Europe/Berlin"       # IANA name; default UTC
//! command = "oms check-timeouts"   # must be registered in the JobRegistry
//! enabled = true                   # default true
//! timeout = "10m"                  # default 1h; units ms, s, m, h, d, combinable ("1h30m")
//! ```
//!
//! Every error names the file, the job (by name, or by position when it has none) and the field, so an
//! operator can fix a bad file without reading code.

use super::registry::{JobRegistry, normalize_command};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::CronParser;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A run that has not ended this long after it started is stopped and recorded as timed out.
pub const DEFAULT_JOB_TIMEOUT: Duration = Duration::from_secs(3600);
/// Job names are stored in `scheduler_run.job` / `scheduler_job_state.job` (100 characters).
const MAX_NAME_LENGTH: usize = 100;

/// A bad jobs file. Displayed as `<file>: job "<name>", field `<field>`: <reason>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct JobsFileError {
    pub file: PathBuf,
    /// The job's name, or `#<position>` (1-based) when the entry has no usable name.
    pub job: Option<String>,
    pub field: Option<&'static str>,
    pub reason: String,
}

impl fmt::Display for JobsFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file.display())?;
        match (&self.job, self.field) {
            (Some(job), Some(field)) => write!(f, "job {job}, field `{field}`: ")?,
            (Some(job), None) => write!(f, "job {job}: ")?,
            (None, Some(field)) => write!(f, "field `{field}`: ")?,
            (None, None) => {}
        }
        f.write_str(&self.reason)
    }
}

/// When a job fires: a cron expression evaluated in a time zone.
#[derive(Clone)]
pub struct Schedule {
    expression: String,
    cron: Cron,
    timezone: Tz,
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schedule")
            .field("expression", &self.expression)
            .field("timezone", &self.timezone.name())
            .finish()
    }
}

impl Schedule {
    /// Parses a cron expression (5 fields, or 6 with seconds first; `@hourly` style aliases too) and an
    /// IANA time zone name. Errors are the reason only; [`parse_jobs`] adds file, job and field.
    pub fn new(expression: &str, timezone: &str) -> Result<Self, (&'static str, String)> {
        let cron = CronParser::new()
            .parse(expression)
            .map_err(|error| ("schedule", format!("invalid cron expression {expression:?}: {error}")))?;
        let timezone: Tz = timezone.parse().map_err(|_| {
            (
                "timezone",
                format!("unknown time zone {timezone:?} (expected an IANA name such as Europe/Berlin or UTC)"),
            )
        })?;
        let schedule = Self {
            expression: expression.to_owned(),
            cron,
            timezone,
        };
        // An expression that can never fire (`0 0 31 2 *`) is a mistake worth reporting now.
        if schedule.next_after(DateTime::<Utc>::UNIX_EPOCH).is_none() {
            return Err(("schedule", format!("cron expression {expression:?} never fires")));
        }
        Ok(schedule)
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    pub fn timezone(&self) -> Tz {
        self.timezone
    }

    /// The first fire time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&after.with_timezone(&self.timezone), false)
            .ok()
            .map(|time| time.with_timezone(&Utc))
    }

    /// The last fire time at or before `at`.
    pub fn latest_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_previous_occurrence(&at.with_timezone(&self.timezone), true)
            .ok()
            .map(|time| time.with_timezone(&Utc))
    }
}

/// One validated `[[job]]` entry.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub name: String,
    pub schedule: Schedule,
    /// The registry key, whitespace-normalized (`oms check-timeouts`).
    pub command: String,
    pub enabled: bool,
    pub timeout: Duration,
}

impl JobSpec {
    /// A job built in code (tests, embedding crates); `command` must be registered where it runs.
    pub fn new(name: &str, schedule: Schedule, command: &str) -> Self {
        Self {
            name: name.to_owned(),
            schedule,
            command: normalize_command(command),
            enabled: true,
            timeout: DEFAULT_JOB_TIMEOUT,
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// The keys a `[[job]]` entry may have; any other is refused, so a typo (`shedule`) is not ignored.
const FIELDS: &[&str] = &["name", "schedule", "timezone", "command", "enabled", "timeout"];

/// Parses and validates the jobs file `text` (read from `file`, named in errors); every command must be
/// in `registry`.
pub fn parse_jobs(text: &str, file: &Path, registry: &JobRegistry) -> Result<Vec<JobSpec>, JobsFileError> {
    let error = |job: Option<String>, field: Option<&'static str>, reason: String| JobsFileError {
        file: file.to_owned(),
        job,
        field,
        reason,
    };
    let document: toml::Table = text
        .parse()
        .map_err(|parse_error: toml::de::Error| error(None, None, parse_error.to_string().trim_end().to_owned()))?;
    if let Some(unknown) = document.keys().find(|key| key.as_str() != "job") {
        return Err(error(
            None,
            None,
            format!("unknown top-level key `{unknown}` (only [[job]] entries are allowed)"),
        ));
    }
    let entries = match document.get("job") {
        None => return Ok(Vec::new()),
        Some(toml::Value::Array(entries)) => entries,
        Some(_) => return Err(error(None, None, "`job` must be written as [[job]] tables".to_owned())),
    };
    let mut jobs: Vec<JobSpec> = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        // Name the job before anything else can fail, so that every later error can say which one.
        let label = entry
            .get("name")
            .and_then(toml::Value::as_str)
            .filter(|name| !name.trim().is_empty())
            .map_or_else(|| format!("#{}", index + 1), |name| format!("{name:?}"));
        let Some(table) = entry.as_table() else {
            return Err(error(Some(label), None, "must be a [[job]] table".to_owned()));
        };
        let job = validate(table, registry).map_err(|(field, reason)| error(Some(label.clone()), field, reason))?;
        if jobs.iter().any(|earlier| earlier.name == job.name) {
            return Err(error(
                Some(label),
                Some("name"),
                format!("duplicate job name {:?}", job.name),
            ));
        }
        jobs.push(job);
    }
    Ok(jobs)
}

/// Reads and parses a jobs file.
pub fn load_jobs(file: &Path, registry: &JobRegistry) -> Result<Vec<JobSpec>, JobsFileError> {
    let text = std::fs::read_to_string(file).map_err(|io_error| JobsFileError {
        file: file.to_owned(),
        job: None,
        field: None,
        reason: format!("cannot be read: {io_error}"),
    })?;
    parse_jobs(&text, file, registry)
}

/// A field's problem: which field (`None` for the entry as a whole) and why.
type FieldError = (Option<&'static str>, String);

/// The string value of `field`, if present.
fn string_field(table: &toml::Table, field: &'static str) -> Result<Option<String>, FieldError> {
    match table.get(field) {
        None => Ok(None),
        Some(toml::Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err((Some(field), format!("must be a string, not a {}", other.type_str()))),
    }
}

fn required_string(table: &toml::Table, field: &'static str) -> Result<String, FieldError> {
    string_field(table, field)?.ok_or_else(|| (Some(field), "is missing".to_owned()))
}

fn validate(table: &toml::Table, registry: &JobRegistry) -> Result<JobSpec, FieldError> {
    if let Some(unknown) = table.keys().find(|key| !FIELDS.contains(&key.as_str())) {
        return Err((
            None,
            format!("unknown field `{unknown}` (expected one of: {})", FIELDS.join(", ")),
        ));
    }
    let name = required_string(table, "name")?;
    let name = name.trim();
    if name.is_empty() || name.len() > MAX_NAME_LENGTH {
        return Err((Some("name"), format!("must be 1 to {MAX_NAME_LENGTH} characters long")));
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.');
    if !name.chars().all(allowed) {
        return Err((
            Some("name"),
            format!("{name:?} may contain only a-z, 0-9, '-', '_' and '.'"),
        ));
    }
    let expression = required_string(table, "schedule")?;
    let timezone = string_field(table, "timezone")?.unwrap_or_else(|| "UTC".to_owned());
    let schedule =
        Schedule::new(expression.trim(), timezone.trim()).map_err(|(field, reason)| (Some(field), reason))?;
    let command = normalize_command(&required_string(table, "command")?);
    if !registry.contains(&command) {
        let known = registry.commands().collect::<Vec<_>>().join(", ");
        return Err((Some("command"), format!("unknown command {command:?}; known: {known}")));
    }
    let enabled = match table.get("enabled") {
        None => true,
        Some(toml::Value::Boolean(enabled)) => *enabled,
        Some(other) => {
            return Err((
                Some("enabled"),
                format!("must be true or false, not a {}", other.type_str()),
            ));
        }
    };
    let timeout = match string_field(table, "timeout")? {
        None => DEFAULT_JOB_TIMEOUT,
        Some(text) => parse_duration(&text).map_err(|reason| (Some("timeout"), reason))?,
    };
    Ok(JobSpec {
        name: name.to_owned(),
        schedule,
        command,
        enabled,
        timeout,
    })
}

/// Parses `"10m"`, `"30s"`, `"500ms"`, `"1h30m"`, `"2d"` into a duration greater than zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration {text:?} (expected e.g. 30s, 10m, 1h30m, 500ms)");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(invalid());
        }
        let amount: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_length = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let part = match &rest[..unit_length] {
            "ms" => Duration::from_millis(amount),
            "s" => Duration::from_secs(amount),
            "m" => Duration::from_secs(amount.saturating_mul(60)),
            "h" => Duration::from_secs(amount.saturating_mul(3600)),
            "d" => Duration::from_secs(amount.saturating_mul(86_400)),
            _ => return Err(invalid()),
        };
        total = total.saturating_add(part);
        rest = &rest[unit_length..];
    }
    if total.is_zero() {
        return Err(format!("duration {text:?} must be greater than zero"));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("0s").is_err());
    }

    #[test]
    fn schedules_honour_their_time_zone() {
        let schedule = Schedule::new("0 2 * * *", "Europe/Berlin").expect("valid");
        let winter: DateTime<Utc> = "2026-01-10T12:00:00Z".parse().expect("time");
        // 02:00 in Berlin is 01:00 UTC in winter.
        assert_eq!(
            schedule.next_after(winter),
            Some("2026-01-11T01:00:00Z".parse().expect("time"))
        );
        let with_seconds = Schedule::new("*/10 * * * * *", "UTC").expect("seconds are optional");
        assert_eq!(
            with_seconds.next_after(winter),
            Some("2026-01-10T12:00:10Z".parse().expect("time"))
        );
        assert_eq!(
            with_seconds.latest_at_or_before("2026-01-10T12:00:25Z".parse().expect("time")),
            Some("2026-01-10T12:00:20Z".parse().expect("time"))
        );
    }
}
