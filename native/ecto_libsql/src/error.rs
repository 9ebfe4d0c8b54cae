//! The crate's one error type, and the classification of SQLite result codes
//! into the atoms Elixir code matches on.

use thiserror::Error;

/// Primary SQLite result codes we classify (the low byte of an extended code).
mod primary {
    pub const ERROR: i32 = 1;
    pub const PERM: i32 = 3;
    pub const ABORT: i32 = 4;
    pub const BUSY: i32 = 5;
    pub const LOCKED: i32 = 6;
    pub const NOMEM: i32 = 7;
    pub const READONLY: i32 = 8;
    pub const INTERRUPT: i32 = 9;
    pub const IOERR: i32 = 10;
    pub const CORRUPT: i32 = 11;
    pub const FULL: i32 = 13;
    pub const CANTOPEN: i32 = 14;
    pub const SCHEMA: i32 = 17;
    pub const TOOBIG: i32 = 18;
    pub const CONSTRAINT: i32 = 19;
    pub const MISMATCH: i32 = 20;
    pub const MISUSE: i32 = 21;
    pub const AUTH: i32 = 23;
    pub const RANGE: i32 = 25;
    pub const NOTADB: i32 = 26;
}

/// SQLITE_BUSY_SNAPSHOT: a read transaction cannot become a write
/// transaction because its snapshot is stale.
const BUSY_SNAPSHOT: i32 = 517;

/// Extended constraint codes (see sqlite3.h, `SQLITE_CONSTRAINT_*`).
mod constraint {
    pub const CHECK: i32 = 275;
    pub const FOREIGNKEY: i32 = 787;
    pub const NOTNULL: i32 = 1299;
    pub const PRIMARYKEY: i32 = 1555;
    pub const UNIQUE: i32 = 2067;
}

/// Every failure the NIF reports. Each variant knows its code atom name.
#[derive(Debug, Error)]
pub enum Error {
    /// A failure reported by SQLite (locally or by a remote server), with its
    /// extended result code when one is known.
    #[error("{message}")]
    Sqlite {
        extended_code: Option<i32>,
        message: String,
    },
    /// The connection, statement or cursor was closed.
    #[error("{0}")]
    Closed(&'static str),
    /// The API was used wrongly: bad parameters, a foreign cursor, ...
    #[error("{0}")]
    Misuse(String),
    /// An option that cannot be honoured.
    #[error("{0}")]
    InvalidOption(String),
    /// The operation does not exist for this kind of connection.
    #[error("{0}")]
    Unsupported(String),
    /// A remote server or the network failed.
    #[error("{0}")]
    Remote(String),
    /// Replication (embedded replica sync) failed.
    #[error("{0}")]
    Sync(String),
    /// The server refused the credentials (HTTP 401/403).
    #[error("{0}")]
    Auth(String),
    /// The server cannot be reached (connection refused, DNS, 5xx).
    #[error("{0}")]
    Unavailable(String),
    /// A foreign key failed, and which one is known (see
    /// `ConnInner::name_failed_foreign_key`): SQLite's own message names
    /// no constraint.
    #[error("FOREIGN KEY constraint failed: {constraint}")]
    ForeignKey { constraint: String },
    /// BEGIN while a transaction is open.
    #[error("cannot start a transaction within a transaction")]
    InTransaction,
    /// A concurrent (MVCC) transaction lost to another that wrote the same
    /// rows: the transaction is over and may be run again.
    #[error("{0}")]
    Conflict(String),
    /// COMMIT or ROLLBACK with no transaction open.
    #[error("no transaction is active")]
    NoTransaction,
    /// An operation did not finish within its time limit.
    #[error("{0}")]
    Timeout(String),
    /// The server forgot this connection's stream (idle expiry, restart):
    /// the connection must be replaced, and an open transaction is lost.
    #[error("{0}")]
    Disconnected(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn misuse(message: impl Into<String>) -> Self {
        Error::Misuse(message.into())
    }

    /// The code atom's name, as Elixir sees it in `%EctoLibSql.Error{code: ...}`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Sqlite {
                extended_code,
                message,
            } => classify(*extended_code, message),
            Error::Closed(_) => "closed",
            Error::Misuse(_) => "misuse",
            Error::InvalidOption(_) => "invalid_option",
            Error::Unsupported(_) => "unsupported",
            Error::Remote(_) => "remote",
            Error::Sync(_) => "sync",
            Error::Auth(_) => "auth",
            Error::Unavailable(_) => "unavailable",
            Error::Disconnected(_) => "disconnected",
            Error::Timeout(_) => "timeout",
            Error::InTransaction => "in_transaction",
            Error::ForeignKey { .. } => "constraint_foreign_key",
            Error::NoTransaction => "no_transaction",
            Error::Conflict(_) => "conflict",
        }
    }

    pub fn extended_code(&self) -> Option<i32> {
        match self {
            Error::Sqlite { extended_code, .. } => *extended_code,
            Error::ForeignKey { .. } => Some(constraint::FOREIGNKEY),
            _ => None,
        }
    }

    /// The name of the constraint that failed, when it is known.
    pub fn constraint(&self) -> Option<&str> {
        match self {
            Error::ForeignKey { constraint } => Some(constraint),
            _ => None,
        }
    }
}

/// Classifies a SQLite failure. The extended code decides where there is
/// one; a remote server sometimes only names the code in its message
/// (`SQLITE_CONSTRAINT_UNIQUE: ...`), so the name is the fallback.
pub fn classify(extended_code: Option<i32>, message: &str) -> &'static str {
    match extended_code {
        Some(code) => classify_code(code, message),
        None => classify_message(message),
    }
}

fn classify_code(code: i32, message: &str) -> &'static str {
    match code {
        constraint::UNIQUE => return "constraint_unique",
        constraint::PRIMARYKEY => return "constraint_primary_key",
        constraint::FOREIGNKEY => return "constraint_foreign_key",
        constraint::NOTNULL => return "constraint_not_null",
        constraint::CHECK => return "constraint_check",
        _ => {}
    }
    match code & 0xff {
        primary::ERROR
            if message.contains("syntax error") || message.contains("incomplete input") =>
        {
            "syntax"
        }
        primary::ERROR => "error",
        primary::PERM => "perm",
        primary::ABORT => "abort",
        primary::BUSY => "busy",
        primary::LOCKED => "locked",
        primary::NOMEM => "nomem",
        primary::READONLY => "readonly",
        primary::INTERRUPT => "interrupted",
        primary::IOERR => "io",
        primary::CORRUPT => "corrupt",
        primary::FULL => "full",
        primary::CANTOPEN => "cantopen",
        primary::SCHEMA => "schema",
        primary::TOOBIG => "toobig",
        primary::CONSTRAINT => "constraint",
        primary::MISMATCH => "mismatch",
        primary::MISUSE => "misuse",
        primary::AUTH => "auth",
        primary::RANGE => "range",
        primary::NOTADB => "notadb",
        _ => "error",
    }
}

/// Code names as a remote server spells them, most specific first.
const NAMED_CODES: &[(&str, &str)] = &[
    ("SQLITE_CONSTRAINT_UNIQUE", "constraint_unique"),
    ("SQLITE_CONSTRAINT_PRIMARYKEY", "constraint_primary_key"),
    ("SQLITE_CONSTRAINT_FOREIGNKEY", "constraint_foreign_key"),
    ("SQLITE_CONSTRAINT_NOTNULL", "constraint_not_null"),
    ("SQLITE_CONSTRAINT_CHECK", "constraint_check"),
    ("SQLITE_CONSTRAINT", "constraint"),
    ("SQLITE_BUSY", "busy"),
    ("SQLITE_LOCKED", "locked"),
    ("SQLITE_READONLY", "readonly"),
    ("SQLITE_INTERRUPT", "interrupted"),
    ("SQLITE_AUTH", "auth"),
];

/// SQLite's own wording of each constraint failure: sqld names only the
/// primary code (`SQLITE_CONSTRAINT`), so the text tells them apart.
const CONSTRAINT_TEXTS: &[(&str, &str)] = &[
    ("UNIQUE constraint failed", "constraint_unique"),
    ("FOREIGN KEY constraint failed", "constraint_foreign_key"),
    ("NOT NULL constraint failed", "constraint_not_null"),
    ("CHECK constraint failed", "constraint_check"),
];

/// The extended code of a constraint failure told only by SQLite's wording
/// (the turso engine's): the primary code when the wording is not one of
/// SQLite's.
pub fn constraint_code(message: &str) -> i32 {
    let named = CONSTRAINT_TEXTS
        .iter()
        .find(|(text, _)| message.contains(text))
        .map(|(_, code)| *code);
    match named {
        Some("constraint_unique") => constraint::UNIQUE,
        Some("constraint_foreign_key") => constraint::FOREIGNKEY,
        Some("constraint_not_null") => constraint::NOTNULL,
        Some("constraint_check") => constraint::CHECK,
        _ => primary::CONSTRAINT,
    }
}

fn classify_message(message: &str) -> &'static str {
    for (name, code) in NAMED_CODES {
        if message.contains(name) {
            if *code == "constraint" {
                if let Some((_, specific)) = CONSTRAINT_TEXTS
                    .iter()
                    .find(|(text, _)| message.contains(text))
                {
                    return specific;
                }
            }
            return code;
        }
    }
    if message.contains("syntax error") || message.contains("incomplete input") {
        "syntax"
    } else {
        "error"
    }
}

impl From<rustler::Error> for Error {
    fn from(_: rustler::Error) -> Self {
        Error::misuse("could not build a term")
    }
}

impl From<libsql::Error> for Error {
    fn from(err: libsql::Error) -> Self {
        use libsql::Error as E;
        match err {
            // SQLITE_BUSY_SNAPSHOT: no busy timeout can help; say why.
            E::SqliteFailure(BUSY_SNAPSHOT, message) => busy_snapshot(message),
            E::SqliteFailure(code, message) => Error::Sqlite {
                extended_code: Some(code),
                message,
            },
            E::RemoteSqliteFailure(_code, extended, message) => Error::Sqlite {
                extended_code: Some(extended),
                message,
            },
            E::Sqlite3SyntaxError(line, col, message) => Error::Sqlite {
                extended_code: Some(primary::ERROR),
                message: format!("syntax error at line {line}, column {col}: {message}"),
            },
            E::Sqlite3ParserError(e) => Error::Sqlite {
                extended_code: Some(primary::ERROR),
                message: format!("syntax error: {e}"),
            },
            E::Misuse(message) => Error::Misuse(message),
            E::Sqlite3UnsupportedStatement => Error::Unsupported(
                "libsql cannot run this statement on a remote or replica connection: it only passes the pragmas it knows (no `PRAGMA synchronous = ...`, `cache_size = ...`, ...)".into(),
            ),
            E::Hrana(e) | E::WriteDelegation(e) => remote(&e.to_string()),
            E::ConnectionFailed(m) => Error::Sqlite {
                extended_code: Some(primary::CANTOPEN),
                message: m,
            },
            E::Replication(e) | E::Sync(e) => Error::Sync(e.to_string()),
            E::SyncNotSupported(mode) => Error::Unsupported(format!(
                "replication calls need an embedded replica, not a {mode} database"
            )),
            E::LoadExtensionNotSupported => {
                Error::Unsupported("extensions can only be loaded into local databases".into())
            }
            E::TransactionalBatchError(m) => Error::Sqlite {
                extended_code: None,
                message: m,
            },
            other => Error::Sqlite {
                extended_code: None,
                message: other.to_string(),
            },
        }
    }
}

/// SQLITE_BUSY_SNAPSHOT: no busy timeout can help; the error says why.
pub fn busy_snapshot(message: String) -> Error {
    Error::Sqlite {
        extended_code: Some(BUSY_SNAPSHOT),
        message: format!(
            "{message}: this DEFERRED transaction read before another connection committed a write, \
             so it cannot write any more; run transactions that write as IMMEDIATE (the default)"
        ),
    }
}

/// Reads a remote failure. libsql 0.10 keeps its Hrana error type private
/// and hands it over boxed, so its rendering is all there is to read: the
/// transport failure (`http error: ...`), the HTTP status and the protocol
/// error code of the server's answer (`api error: status=..., body=...`),
/// or a statement's SQLite error (`stream error: Error { message, code }`).
pub fn remote(rendered: &str) -> Error {
    let text = rendered.trim_end_matches('`');
    if let Some(rest) = text.strip_prefix("http error: `") {
        return Error::Unavailable(format!("cannot reach the libSQL server: {rest}"));
    }
    if let Some(rest) = text.strip_prefix("api error: `") {
        return api_error(rest);
    }
    // A replica's write delegated to its primary over gRPC.
    if let Some(rest) = text.strip_prefix("status: ") {
        let status = rest.split(',').next().unwrap_or("");
        let message = rest
            .split_once("message: ")
            .map(|(_, m)| m.split(", details:").next().unwrap_or(m).trim_matches('"'))
            .unwrap_or(rest);
        return match status {
            "PermissionDenied" | "Unauthenticated" => {
                Error::Auth(format!("the primary refused the write: {message}"))
            }
            "Unavailable" => Error::Unavailable(format!("the primary is unavailable: {message}")),
            _ => Error::Remote(format!("the primary answered {status}: {message}")),
        };
    }
    // `cursor error: error at step 0: (error code: SQLITE_CONSTRAINT) SQLite error: ...`
    if let Some(rest) = text.strip_prefix("cursor error: `") {
        if let Some((_, after)) = rest.split_once("(error code: ") {
            if let Some((code, message)) = after.split_once(')') {
                return sqlite_from_server(code, message.trim_start_matches([' ', '`']));
            }
        }
    }
    if let Some(rest) = text.strip_prefix("stream error: `") {
        if let (Some(message), Some(code)) =
            (debug_field(rest, "message"), debug_field(rest, "code"))
        {
            return sqlite_from_server(&code, &message);
        }
    }
    Error::Remote(text.to_string())
}

/// `status=400 Bad Request, body={"message": ..., "code": ...}`.
fn api_error(rest: &str) -> Error {
    let status: u16 = rest
        .strip_prefix("status=")
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = rest.split_once("body=").map(|(_, b)| b).unwrap_or("");
    let json: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let field = |name: &str| {
        json.as_ref()
            .and_then(|j| j.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let code = field("code").unwrap_or_default();
    let message = field("message").unwrap_or_else(|| body.to_string());
    match (status, code.as_str()) {
        (401 | 403, _) => Error::Auth(format!(
            "the libSQL server refused the credentials (HTTP {status}): {message}"
        )),
        (_, "STREAM_EXPIRED" | "STREAM_NOT_FOUND" | "STREAM_CLOSED") => Error::Disconnected(
            format!("the server closed this connection's stream ({code}): {message}"),
        ),
        (_, c) if c.starts_with("SQLITE_") => sqlite_from_server(c, &message),
        // sqld answers an unknown baton (its streams were lost in a
        // restart) with a plain-text 400 and no code.
        (400, "") if body.contains("baton") => Error::Disconnected(format!(
            "the server no longer knows this connection's stream (it restarted?): {body}"
        )),
        (500..=599, _) => Error::Unavailable(format!(
            "the libSQL server is unavailable (HTTP {status}): {message}"
        )),
        _ => Error::Remote(format!(
            "the libSQL server answered HTTP {status}: {message}"
        )),
    }
}

/// A SQLite failure reported by the server by code name.
fn sqlite_from_server(code: &str, message: &str) -> Error {
    let message = message.strip_prefix("SQLite error: ").unwrap_or(message);
    Error::Sqlite {
        extended_code: None,
        message: format!("{code}: {message}"),
    }
}

/// The string value of `name: "..."` in a Rust `Debug` rendering.
fn debug_field(rendered: &str, name: &str) -> Option<String> {
    let start = rendered.find(&format!("{name}: \""))? + name.len() + 3;
    let mut out = String::new();
    let mut chars = rendered[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return Some(out),
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn constraint_codes_are_specific() {
        assert_eq!(
            classify(Some(2067), "UNIQUE constraint failed: t.a"),
            "constraint_unique"
        );
        assert_eq!(
            classify(Some(1555), "UNIQUE constraint failed: t.id"),
            "constraint_primary_key"
        );
        assert_eq!(
            classify(Some(787), "FOREIGN KEY constraint failed"),
            "constraint_foreign_key"
        );
        assert_eq!(
            classify(Some(1299), "NOT NULL constraint failed: t.a"),
            "constraint_not_null"
        );
        assert_eq!(
            classify(Some(275), "CHECK constraint failed: c"),
            "constraint_check"
        );
        assert_eq!(classify(Some(19), "constraint failed"), "constraint");
    }

    #[test]
    fn extended_codes_fall_back_to_their_primary_code() {
        assert_eq!(classify(Some(5 | (1 << 8)), "database is locked"), "busy");
        assert_eq!(classify(Some(6), "database table is locked"), "locked");
        assert_eq!(classify(Some(9), "interrupted"), "interrupted");
        assert_eq!(
            classify(Some(8 | (1 << 8)), "attempt to write a readonly database"),
            "readonly"
        );
        assert_eq!(classify(Some(10 | (3 << 8)), "disk I/O error"), "io");
    }

    #[test]
    fn generic_errors_tell_syntax_apart() {
        assert_eq!(classify(Some(1), "near \"SELEC\": syntax error"), "syntax");
        assert_eq!(classify(Some(1), "no such table: nope"), "error");
    }

    #[test]
    fn remote_messages_are_classified_by_code_name() {
        assert_eq!(
            classify(
                None,
                "SQLITE_CONSTRAINT_UNIQUE: UNIQUE constraint failed: t.a"
            ),
            "constraint_unique"
        );
        assert_eq!(classify(None, "SQLITE_BUSY: database is locked"), "busy");
        // sqld sends only the primary code; SQLite's wording names the kind.
        assert_eq!(
            classify(
                None,
                "SQLITE_CONSTRAINT: SQLite error: UNIQUE constraint failed: t.v"
            ),
            "constraint_unique"
        );
        assert_eq!(
            classify(
                None,
                "SQLITE_CONSTRAINT: SQLite error: NOT NULL constraint failed: t.v"
            ),
            "constraint_not_null"
        );
        assert_eq!(
            classify(None, "SQLITE_CONSTRAINT: something new"),
            "constraint"
        );
        assert_eq!(classify(None, "something else"), "error");
    }

    #[test]
    fn libsql_errors_keep_their_extended_code() {
        let err: Error =
            libsql::Error::SqliteFailure(2067, "UNIQUE constraint failed: t.a".into()).into();
        assert_eq!(err.code(), "constraint_unique");
        assert_eq!(err.extended_code(), Some(2067));
    }

    #[test]
    fn remote_failures_are_read_by_kind() {
        let expired = remote("api error: `status=400 Bad Request, body={\"message\":\"The stream has expired due to inactivity\",\"code\":\"STREAM_EXPIRED\"}`");
        assert_eq!(expired.code(), "disconnected");
        let baton = remote("api error: `status=400 Bad Request, body=Received an invalid baton`");
        assert_eq!(baton.code(), "disconnected");
        let auth = remote("api error: `status=401 Unauthorized, body={\"error\":\"Unauthorized: `The JWT is invalid`\"}`");
        assert_eq!(auth.code(), "auth");
        let down = remote("http error: `error trying to connect: tcp connect error: Connection refused (os error 111)`");
        assert_eq!(down.code(), "unavailable");
        let sql = remote("stream error: `Error { message: \"SQLite error: no such table: nope\", code: \"SQLITE_UNKNOWN\" }`");
        assert_eq!(sql.code(), "error");
        assert_eq!(sql.to_string(), "SQLITE_UNKNOWN: no such table: nope");
        let unique = remote("stream error: `Error { message: \"SQLite error: UNIQUE constraint failed: t.v\", code: \"SQLITE_CONSTRAINT\" }`");
        assert_eq!(unique.code(), "constraint_unique");
        let cursor = remote("cursor error: `error at step 0: (error code: SQLITE_CONSTRAINT) `SQLite error: NOT NULL constraint failed: t.v`");
        assert_eq!(cursor.code(), "constraint_not_null");
        assert_eq!(
            cursor.to_string(),
            "SQLITE_CONSTRAINT: NOT NULL constraint failed: t.v"
        );
        let denied = remote("status: PermissionDenied, message: \"Authorization forbidden: no Write permission\", details: [], metadata: MetadataMap { }");
        assert_eq!(denied.code(), "auth");
        assert_eq!(
            denied.to_string(),
            "the primary refused the write: Authorization forbidden: no Write permission"
        );
        assert_eq!(remote("something new").code(), "remote");
    }

    proptest! {
        #[test]
        fn remote_never_panics(text in ".*") {
            let _ = remote(&text);
        }

        #[test]
        fn every_code_classifies_to_a_known_atom(code in any::<i32>(), message in ".*") {
            let atom = classify(Some(code), &message);
            prop_assert!(!atom.is_empty());
            prop_assert!(atom.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        }
    }
}
