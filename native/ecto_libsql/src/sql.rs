//! What we learn from SQL text without parsing it: the kind of command a
//! statement is (for `%EctoLibSql.Result{command: ...}`).

/// The command a statement runs, from its first keyword. `WITH` queries are
/// classified by the first DML keyword after their common table expressions,
/// that is outside every parenthesis.
pub fn command(sql: &str) -> &'static str {
    let mut words = keywords(sql);
    match words.next() {
        Some((word, _)) if word.eq_ignore_ascii_case("with") => words
            .filter(|(_, depth)| *depth == 0)
            .find_map(|(w, _)| dml(&w))
            .unwrap_or("select"),
        Some((word, _)) => first_keyword(&word),
        None => "other",
    }
}

/// Whether a statement run outside a transaction must hold the write gate
/// (see `gate`): everything but reads and transaction control, and a BEGIN
/// that takes the write lock at once. A PRAGMA counts as a write (some
/// change the file); holding the gate for a read one costs nothing more.
pub fn takes_write_lock(sql: &str) -> bool {
    match command(sql) {
        "select" | "explain" | "commit" | "rollback" | "savepoint" | "release" => false,
        "begin" => keywords(sql).skip(1).any(|(w, _)| {
            w.eq_ignore_ascii_case("immediate") || w.eq_ignore_ascii_case("exclusive")
        }),
        // `VACUUM INTO` only reads this database (a backup): holding the
        // gate would stop every writer for the backup's whole duration.
        "vacuum" => !keywords(sql).any(|(w, depth)| depth == 0 && w.eq_ignore_ascii_case("into")),
        _ => true,
    }
}

fn dml(word: &str) -> Option<&'static str> {
    ["select", "insert", "update", "delete", "replace"]
        .into_iter()
        .find(|k| word.eq_ignore_ascii_case(k))
        .map(first_keyword)
}

fn first_keyword(word: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "select",
        "insert",
        "update",
        "delete",
        "replace",
        "create",
        "drop",
        "alter",
        "begin",
        "commit",
        "end",
        "rollback",
        "savepoint",
        "release",
        "pragma",
        "explain",
        "vacuum",
        "analyze",
        "attach",
        "detach",
        "reindex",
        "values",
    ];
    match KNOWN.iter().find(|k| word.eq_ignore_ascii_case(k)) {
        Some(&"end") => "commit",
        Some(&"replace") => "insert",
        Some(&"values") => "select",
        Some(k) => k,
        None => "other",
    }
}

/// Whether `sql` holds a statement after its first one. SQLite prepares
/// the first statement of a string and ignores the rest, so a query or
/// execute given `INSERT ...; DROP TABLE t` must be refused rather than run
/// half. Semicolons inside a CREATE TRIGGER's BEGIN ... END body (and the
/// CASE ... END expressions there) belong to the trigger.
pub fn has_trailing_statement(sql: &str) -> bool {
    let trigger = is_create_trigger(sql);
    let mut blocks = 0usize;
    let mut tokens = tokens(sql);
    while let Some(token) = tokens.next() {
        match token {
            Token::Word(w, _, _) if trigger => {
                if w.eq_ignore_ascii_case("begin") || w.eq_ignore_ascii_case("case") {
                    blocks += 1;
                } else if w.eq_ignore_ascii_case("end") {
                    blocks = blocks.saturating_sub(1);
                }
            }
            Token::Word(..) | Token::Param(_) => {}
            Token::Semicolon if blocks == 0 => {
                return tokens.any(|t| matches!(t, Token::Word(..)));
            }
            Token::Semicolon => {}
        }
    }
    false
}

/// Whether `word` occurs in the SQL outside comments, string literals and
/// quoted names (case-insensitive).
pub fn has_word(sql: &str, word: &str) -> bool {
    keywords(sql).any(|(w, _)| w.eq_ignore_ascii_case(word))
}

/// Whether the SQL calls `name(...)` (or has `name (` as in `FILTER (`),
/// outside comments, string literals and quoted names.
pub fn calls(sql: &str, name: &str) -> bool {
    tokens(sql).any(|t| match t {
        Token::Word(w, _, end) => {
            w.eq_ignore_ascii_case(name) && sql[end..].trim_start().starts_with('(')
        }
        Token::Param(_) | Token::Semicolon => false,
    })
}

/// The statement's parameters as SQLite numbers them, each with its name
/// (`None` for `?` and `?NNN`): a bare `?` takes the next number, `?NNN`
/// that number, and a name its first occurrence's number. For an engine
/// whose own count can fall short (see `engine::turso`).
pub fn placeholders(sql: &str) -> Vec<Option<String>> {
    let mut slots: Vec<Option<String>> = Vec::new();
    for token in tokens(sql) {
        let Token::Param(param) = token else { continue };
        if param == "?" {
            slots.push(None);
        } else if let Some(number) = param.strip_prefix('?') {
            // SQLite's limit on a parameter's number is 32,766.
            let Ok(n) = number.parse::<usize>() else {
                continue;
            };
            if (1..=32_766).contains(&n) && n > slots.len() {
                slots.resize(n, None);
            }
        } else if !slots.iter().any(|s| s.as_deref() == Some(param.as_str())) {
            slots.push(Some(param));
        }
    }
    slots
}

/// Whether the statement is a CREATE [TEMP] TRIGGER.
fn is_create_trigger(sql: &str) -> bool {
    let mut words = keywords(sql).map(|(w, _)| w);
    let is = |w: Option<String>, k: &str| w.is_some_and(|w| w.eq_ignore_ascii_case(k));
    if !is(words.next(), "create") {
        return false;
    }
    match words.next() {
        Some(w) if w.eq_ignore_ascii_case("temp") || w.eq_ignore_ascii_case("temporary") => {
            is(words.next(), "trigger")
        }
        w => is(w, "trigger"),
    }
}

enum Token {
    /// A word, its parenthesis depth, and the byte offset just past it.
    Word(String, usize, usize),
    /// A parameter: `?`, `?NNN`, or a name with its prefix (`:a`, `@a`, `$a`).
    Param(String),
    Semicolon,
}

/// Words of the SQL outside comments, string literals and quoted names,
/// each with its parenthesis depth.
fn keywords(sql: &str) -> impl Iterator<Item = (String, usize)> + '_ {
    tokens(sql).filter_map(|t| match t {
        Token::Word(w, depth, _) => Some((w, depth)),
        Token::Param(_) | Token::Semicolon => None,
    })
}

/// Words and top-level semicolons of the SQL, outside comments, string
/// literals and quoted names.
fn tokens(sql: &str) -> impl Iterator<Item = Token> + '_ {
    let bytes = sql.as_bytes();
    let mut i = 0;
    let mut depth = 0usize;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'-' && bytes.get(i + 1) == Some(&b'-') {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            } else if b == b'/' && bytes.get(i + 1) == Some(&b'*') {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 2;
            } else if matches!(b, b'\'' | b'"' | b'`' | b'[') {
                let close = if b == b'[' { b']' } else { b };
                i += 1;
                while i < bytes.len() && bytes[i] != close {
                    i += 1;
                }
                i += 1;
            } else if b.is_ascii_alphabetic() || b == b'_' {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                return Some(Token::Word(sql[start..i].to_string(), depth, i));
            } else if b == b'?' {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                return Some(Token::Param(sql[start..i].to_string()));
            } else if matches!(b, b':' | b'@' | b'$')
                && bytes
                    .get(i + 1)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
            {
                let start = i;
                i += 1;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                return Some(Token::Param(sql[start..i].to_string()));
            } else {
                i += 1;
                match b {
                    b'(' => depth += 1,
                    b')' => depth = depth.saturating_sub(1),
                    b';' if depth == 0 => return Some(Token::Semicolon),
                    _ => {}
                }
            }
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_calls_are_found_outside_literals_and_quoted_names() {
        assert!(has_word(
            "WITH RECURSIVE c(x) AS (SELECT 1) SELECT x FROM c",
            "recursive"
        ));
        assert!(!has_word(
            "SELECT 'recursive' AS \"recursive\"",
            "recursive"
        ));
        assert!(calls("SELECT lag (x) OVER (ORDER BY x) FROM t", "lag"));
        assert!(calls(
            "SELECT count(*) FILTER(WHERE x > 1) FROM t",
            "filter"
        ));
        assert!(!calls("SELECT lag FROM t", "lag"));
        assert!(!calls("SELECT 'lag(' FROM t -- lag(", "lag"));
    }

    #[test]
    fn placeholders_are_numbered_as_sqlite_numbers_them() {
        assert_eq!(placeholders("SELECT ?, ?, '?' -- ?"), vec![None, None]);
        assert_eq!(placeholders("SELECT ?3, ?1"), vec![None, None, None]);
        assert_eq!(
            placeholders("SELECT :a, @b, :a, $c, ':d'"),
            vec![Some(":a".into()), Some("@b".into()), Some("$c".into())]
        );
        assert_eq!(
            placeholders("SELECT 1 WHERE (0) AND x IN (?1,?2,?3)").len(),
            3
        );
    }

    #[test]
    fn vacuum_into_reads_and_vacuum_writes() {
        assert!(!takes_write_lock("VACUUM INTO '/tmp/backup.db'"));
        assert!(!takes_write_lock("vacuum main into ?1"));
        assert!(takes_write_lock("VACUUM"));
        assert!(takes_write_lock("VACUUM main"));
        assert!(!takes_write_lock("SELECT 1"));
    }

    #[test]
    fn a_second_statement_is_found_outside_strings_comments_and_trigger_bodies() {
        assert!(has_trailing_statement(
            "INSERT INTO t VALUES (1); DROP TABLE t"
        ));
        assert!(has_trailing_statement("SELECT 1;SELECT 2"));
        assert!(!has_trailing_statement("SELECT 1;"));
        assert!(!has_trailing_statement("SELECT 1; -- done"));
        assert!(!has_trailing_statement("SELECT ';DROP TABLE t'"));
        assert!(!has_trailing_statement("SELECT 1 /* ; SELECT 2 */"));
        assert!(!has_trailing_statement(
            "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE u SET n = CASE WHEN 1 THEN 2 END; DELETE FROM v; END"
        ));
        assert!(!has_trailing_statement(
            "create temp trigger tr after insert on t begin select 1; end;"
        ));
        assert!(has_trailing_statement(
            "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END; DROP TABLE t"
        ));
        assert!(!has_trailing_statement(
            "CREATE TABLE t (a TEXT DEFAULT ';')"
        ));
    }

    #[test]
    fn writes_and_immediate_begins_take_the_write_lock() {
        assert!(takes_write_lock("INSERT INTO t VALUES (1)"));
        assert!(takes_write_lock("WITH x AS (SELECT 1) UPDATE t SET a = 1"));
        assert!(takes_write_lock("begin immediate"));
        assert!(takes_write_lock("BEGIN EXCLUSIVE TRANSACTION"));
        assert!(!takes_write_lock("BEGIN"));
        assert!(!takes_write_lock("BEGIN DEFERRED"));
        assert!(!takes_write_lock("SELECT * FROM t"));
        assert!(!takes_write_lock("WITH x AS (SELECT 1) SELECT * FROM x"));
        assert!(!takes_write_lock("COMMIT"));
    }

    #[test]
    fn first_keyword_decides() {
        assert_eq!(command("SELECT 1"), "select");
        assert_eq!(command("  insert into t values (1)"), "insert");
        assert_eq!(command("-- note\nUPDATE t SET a = 1"), "update");
        assert_eq!(command("/* x */ delete from t"), "delete");
        assert_eq!(command("CREATE TABLE t (a)"), "create");
        assert_eq!(command("END"), "commit");
        assert_eq!(command(""), "other");
        assert_eq!(command("frobnicate"), "other");
    }

    #[test]
    fn with_queries_take_their_dml_keyword() {
        assert_eq!(
            command("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x"),
            "insert"
        );
        assert_eq!(
            command("WITH x AS (SELECT 'delete') SELECT * FROM x"),
            "select"
        );
        assert_eq!(command("WITH \"update\" AS (SELECT 1) SELECT 1"), "select");
    }
}
