//! SQLite's JSONB, the binary JSON format of SQLite 3.45+ (what `jsonb()`
//! returns and every JSON function accepts), to and from JSON text: how a
//! Repo with `map_type: :binary` stores maps and arrays. Every element is
//! a header (its type in the low four bits of the first byte, its payload
//! size in the high four bits or in the 1, 2, 4 or 8 bytes after) and a
//! payload. Scalars keep their JSON text: numbers as written, strings
//! between their quotes (with their escapes, as TEXTJ), so converting is
//! copying plus headers.

use std::fmt;

const NULL: u8 = 0;
const TRUE: u8 = 1;
const FALSE: u8 = 2;
const INT: u8 = 3;
const INT5: u8 = 4;
const FLOAT: u8 = 5;
const FLOAT5: u8 = 6;
const TEXT: u8 = 7;
const TEXTJ: u8 = 8;
const TEXT5: u8 = 9;
const TEXTRAW: u8 = 10;
const ARRAY: u8 = 11;
const OBJECT: u8 = 12;

/// Why a conversion failed, with the byte offset where it did.
#[derive(Debug, PartialEq, Eq)]
pub struct Invalid {
    pub at: usize,
    pub what: &'static str,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

type Result<T> = std::result::Result<T, Invalid>;

fn invalid<T>(at: usize, what: &'static str) -> Result<T> {
    Err(Invalid { at, what })
}

/// Appends the header of an element of type `kind` with `size` payload
/// bytes, in its shortest form.
fn header(out: &mut Vec<u8>, kind: u8, size: usize) {
    if size <= 11 {
        out.push(((size as u8) << 4) | kind);
    } else if size <= 0xff {
        out.push(0xc0 | kind);
        out.push(size as u8);
    } else if size <= 0xffff {
        out.push(0xd0 | kind);
        out.extend_from_slice(&(size as u16).to_be_bytes());
    } else if size <= 0xffff_ffff {
        out.push(0xe0 | kind);
        out.extend_from_slice(&(size as u32).to_be_bytes());
    } else {
        out.push(0xf0 | kind);
        out.extend_from_slice(&(size as u64).to_be_bytes());
    }
}

/// JSON text (RFC 8259) as JSONB.
pub fn from_json(text: &[u8]) -> Result<Vec<u8>> {
    let mut parser = Parser { text, pos: 0 };
    let mut out = Vec::with_capacity(text.len());
    parser.value(&mut out, 0)?;
    parser.skip_space();
    if parser.pos != text.len() {
        return invalid(parser.pos, "text after the JSON value");
    }
    Ok(out)
}

/// Nesting deeper than this is refused (SQLite's own limit is 1000).
const MAX_DEPTH: usize = 1000;

struct Parser<'t> {
    text: &'t [u8],
    pos: usize,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while self.pos < self.text.len()
            && matches!(self.text[self.pos], b' ' | b'\t' | b'\n' | b'\r')
        {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn value(&mut self, out: &mut Vec<u8>, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return invalid(self.pos, "JSON nested too deeply");
        }
        self.skip_space();
        match self.peek() {
            Some(b'{') => self.container(out, depth, OBJECT, b'}'),
            Some(b'[') => self.container(out, depth, ARRAY, b']'),
            Some(b'"') => self.string(out),
            Some(b't') => self.literal(out, b"true", TRUE),
            Some(b'f') => self.literal(out, b"false", FALSE),
            Some(b'n') => self.literal(out, b"null", NULL),
            Some(b'-' | b'0'..=b'9') => self.number(out),
            Some(_) => invalid(self.pos, "unexpected character"),
            None => invalid(self.pos, "unexpected end of JSON"),
        }
    }

    /// An object or array: its elements are written after a placeholder
    /// header, which is replaced once their size is known.
    fn container(&mut self, out: &mut Vec<u8>, depth: usize, kind: u8, close: u8) -> Result<()> {
        self.pos += 1;
        let mut payload = Vec::new();
        self.skip_space();
        if self.peek() == Some(close) {
            self.pos += 1;
        } else {
            loop {
                if kind == OBJECT {
                    self.skip_space();
                    if self.peek() != Some(b'"') {
                        return invalid(self.pos, "expected an object key");
                    }
                    self.string(&mut payload)?;
                    self.skip_space();
                    if self.peek() != Some(b':') {
                        return invalid(self.pos, "expected ':'");
                    }
                    self.pos += 1;
                }
                self.value(&mut payload, depth + 1)?;
                self.skip_space();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(c) if c == close => {
                        self.pos += 1;
                        break;
                    }
                    _ => return invalid(self.pos, "expected ',' or the container's end"),
                }
            }
        }
        header(out, kind, payload.len());
        out.extend_from_slice(&payload);
        Ok(())
    }

    fn string(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let start = self.pos + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            match self.text.get(i) {
                None => return invalid(self.pos, "unterminated string"),
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    match self.text.get(i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                        Some(b'u')
                            if self
                                .text
                                .get(i + 2..i + 6)
                                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) =>
                        {
                            i += 6
                        }
                        _ => return invalid(i, "invalid escape in string"),
                    }
                }
                Some(c) if *c < 0x20 => return invalid(i, "control character in string"),
                Some(_) => i += 1,
            }
        }
        let content = &self.text[start..i];
        if std::str::from_utf8(content).is_err() {
            return invalid(start, "string is not valid UTF-8");
        }
        header(out, if escaped { TEXTJ } else { TEXT }, content.len());
        out.extend_from_slice(content);
        self.pos = i + 1;
        Ok(())
    }

    fn literal(&mut self, out: &mut Vec<u8>, word: &[u8], kind: u8) -> Result<()> {
        if self.text.get(self.pos..self.pos + word.len()) != Some(word) {
            return invalid(self.pos, "unexpected character");
        }
        self.pos += word.len();
        header(out, kind, 0);
        Ok(())
    }

    fn number(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let start = self.pos;
        let digits = |p: &mut Parser, at_least: usize| -> Result<()> {
            let from = p.pos;
            while p.peek().is_some_and(|c| c.is_ascii_digit()) {
                p.pos += 1;
            }
            if p.pos - from < at_least {
                return invalid(p.pos, "invalid number");
            }
            Ok(())
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        if self.peek() == Some(b'0') {
            self.pos += 1;
        } else {
            digits(self, 1)?;
        }
        let mut float = false;
        if self.peek() == Some(b'.') {
            float = true;
            self.pos += 1;
            digits(self, 1)?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            float = true;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            digits(self, 1)?;
        }
        header(out, if float { FLOAT } else { INT }, self.pos - start);
        out.extend_from_slice(&self.text[start..self.pos]);
        Ok(())
    }
}

/// Whether `bytes` look like one JSONB object or array (the forms maps
/// and arrays are stored in), from its header alone; `to_json` then tells
/// JSONB and JSON text apart for certain.
pub fn is_container(bytes: &[u8]) -> bool {
    // JSON text starts with `{` or `[`, whose low bits read as OBJECT and
    // ARRAY too; but as a header they almost never announce exactly the
    // input's length.
    matches!(read_header(bytes, 0), Ok((ARRAY | OBJECT, _, end)) if end == bytes.len())
}

/// JSONB as JSON text, validating it: `Err` for bytes that are not one
/// whole, well-formed JSONB element.
pub fn to_json(bytes: &[u8]) -> Result<String> {
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 4);
    let end = element(bytes, 0, &mut out, 0)?;
    if end != bytes.len() {
        return invalid(end, "bytes after the JSONB element");
    }
    Ok(out)
}

/// Reads the header at `at`: (type, payload start, payload end).
fn read_header(bytes: &[u8], at: usize) -> Result<(u8, usize, usize)> {
    let first = *bytes.get(at).ok_or(Invalid {
        at,
        what: "truncated JSONB",
    })?;
    let kind = first & 0x0f;
    let (size, start) = match first >> 4 {
        n @ 0..=11 => (n as usize, at + 1),
        n => {
            let width = 1usize << (n - 12);
            let raw = bytes.get(at + 1..at + 1 + width).ok_or(Invalid {
                at,
                what: "truncated JSONB header",
            })?;
            let size = raw.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            let size = usize::try_from(size).map_err(|_| Invalid {
                at,
                what: "JSONB element too large",
            })?;
            (size, at + 1 + width)
        }
    };
    let end = start
        .checked_add(size)
        .filter(|end| *end <= bytes.len())
        .ok_or(Invalid {
            at,
            what: "JSONB element longer than its container",
        })?;
    Ok((kind, start, end))
}

fn element(bytes: &[u8], at: usize, out: &mut String, depth: usize) -> Result<usize> {
    if depth > MAX_DEPTH {
        return invalid(at, "JSONB nested too deeply");
    }
    let (kind, start, end) = read_header(bytes, at)?;
    let payload = &bytes[start..end];
    let text = || {
        std::str::from_utf8(payload).map_err(|_| Invalid {
            at: start,
            what: "JSONB text is not valid UTF-8",
        })
    };
    match kind {
        NULL | TRUE | FALSE if !payload.is_empty() => {
            return invalid(at, "JSONB literal with a payload")
        }
        NULL => out.push_str("null"),
        TRUE => out.push_str("true"),
        FALSE => out.push_str("false"),
        INT | FLOAT => {
            let t = text()?;
            if t.is_empty()
                || !t
                    .bytes()
                    .all(|c| c.is_ascii_digit() || b"+-.eE".contains(&c))
            {
                return invalid(start, "invalid JSONB number");
            }
            out.push_str(t);
        }
        INT5 => out.push_str(&int5(text()?).ok_or(Invalid {
            at: start,
            what: "invalid JSONB number",
        })?),
        FLOAT5 => out.push_str(&float5(text()?)),
        TEXT | TEXTJ => {
            let t = text()?;
            if kind == TEXT && t.bytes().any(|c| c == b'"' || c == b'\\' || c < 0x20) {
                return invalid(start, "JSONB TEXT with characters that need escaping");
            }
            out.push('"');
            out.push_str(t);
            out.push('"');
        }
        TEXT5 => {
            out.push('"');
            text5(text()?, out);
            out.push('"');
        }
        TEXTRAW => {
            out.push('"');
            escape(text()?, out);
            out.push('"');
        }
        ARRAY | OBJECT => {
            out.push(if kind == ARRAY { '[' } else { '{' });
            let mut pos = start;
            let mut index = 0;
            while pos < end {
                if index > 0 {
                    out.push(if kind == OBJECT && index % 2 == 1 {
                        ':'
                    } else {
                        ','
                    });
                }
                if kind == OBJECT && index % 2 == 0 {
                    let (key_kind, _, _) = read_header(bytes, pos)?;
                    if !matches!(key_kind, TEXT | TEXTJ | TEXT5 | TEXTRAW) {
                        return invalid(pos, "JSONB object key that is not text");
                    }
                }
                pos = element(&bytes[..end], pos, out, depth + 1)?;
                index += 1;
            }
            if kind == OBJECT && index % 2 == 1 {
                return invalid(end, "JSONB object key without a value");
            }
            out.push(if kind == ARRAY { ']' } else { '}' });
        }
        _ => return invalid(at, "reserved JSONB element type"),
    }
    Ok(end)
}

/// A JSON5 integer (hexadecimal, or with a leading `+`) as JSON.
fn int5(t: &str) -> Option<String> {
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let value = match digits.get(..2) {
        Some("0x" | "0X") => u128::from_str_radix(&digits[2..], 16).ok()?,
        _ => digits.parse::<u128>().ok()?,
    };
    Some(if negative {
        format!("-{value}")
    } else {
        value.to_string()
    })
}

/// A JSON5 float (`.5`, `5.`, `+1.0`, `Infinity`, `NaN`) as JSON, the way
/// SQLite's `json()` renders them.
fn float5(t: &str) -> String {
    let (sign, body) = match t.as_bytes().first() {
        Some(b'-') => ("-", &t[1..]),
        Some(b'+') => ("", &t[1..]),
        _ => ("", t),
    };
    if body.eq_ignore_ascii_case("infinity") || body.eq_ignore_ascii_case("inf") {
        return format!("{sign}9.0e999");
    }
    if body.eq_ignore_ascii_case("nan") {
        return "null".into();
    }
    let mut s = String::from(sign);
    if body.starts_with('.') {
        s.push('0');
    }
    s.push_str(body);
    if s.ends_with('.') {
        s.push('0');
    }
    s.replace(".e", ".0e").replace(".E", ".0E")
}

/// JSON5 string escapes (`\'`, `\xHH`, `\0`, `\v`, line continuations)
/// as JSON escapes.
fn text5(t: &str, out: &mut String) {
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            if c == '"' {
                out.push_str("\\\"");
            } else {
                out.push(c);
            }
            continue;
        }
        match chars.next() {
            Some('\'') => out.push('\''),
            Some('0') => out.push_str("\\u0000"),
            Some('v') => out.push_str("\\u000b"),
            Some('x') => {
                out.push_str("\\u00");
                out.extend(chars.by_ref().take(2));
            }
            // A line continuation: the escaped line break is dropped.
            Some('\n' | '\u{2028}' | '\u{2029}') => {}
            Some('\r') => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push_str("\\\\"),
        }
    }
}

/// Text with JSON escapes added.
fn escape(t: &str, out: &mut String) {
    for c in t.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(json: &str) -> String {
        to_json(&from_json(json.as_bytes()).expect("valid JSON")).expect("valid JSONB")
    }

    #[test]
    fn json_text_round_trips_without_whitespace() {
        assert_eq!(
            round_trip(r#"{"a": [1, -2.5e3, true, false, null], "b": {"c": "d\"e\u00e9"}}"#),
            r#"{"a":[1,-2.5e3,true,false,null],"b":{"c":"d\"e\u00e9"}}"#
        );
        assert_eq!(round_trip("[]"), "[]");
        assert_eq!(round_trip("{}"), "{}");
        assert_eq!(round_trip(r#""plain""#), r#""plain""#);
    }

    #[test]
    fn headers_use_the_shortest_size_form() {
        assert_eq!(from_json(b"[1]").unwrap(), vec![0x2b, 0x13, b'1']);
        let long = format!("\"{}\"", "x".repeat(300));
        let jsonb = from_json(long.as_bytes()).unwrap();
        assert_eq!(&jsonb[..3], &[0xd7, 0x01, 0x2c]);
        assert_eq!(to_json(&jsonb).unwrap(), long);
    }

    #[test]
    fn invalid_json_is_refused_with_its_position() {
        assert_eq!(from_json(b"[1,]").unwrap_err().at, 3);
        assert!(from_json(b"{\"a\" 1}").is_err());
        assert!(from_json(b"\"\\q\"").is_err());
        assert!(from_json(b"01").is_err());
        assert!(from_json(b"[1] x").is_err());
        assert!(from_json(&[b'"', 0xff, b'"']).is_err());
    }

    #[test]
    fn only_headers_spanning_the_whole_input_look_like_containers() {
        assert!(is_container(&from_json(br#"{"a":[1,2]}"#).unwrap()));
        assert!(!is_container(br#"{"a":[1,2]}"#));
        assert!(!is_container(b"\"text\""));
        assert!(!is_container(b""));
    }

    #[test]
    fn json_text_is_never_read_as_jsonb() {
        for text in [
            r#"{"ab":1}"#,
            "[1,23]",
            "[true]",
            "[null]",
            "[[[]]]",
            "[-1,0]",
            "{}",
            "[]",
            r#"["abc"]"#,
        ] {
            assert!(to_json(text.as_bytes()).is_err(), "{text} read as JSONB");
        }
    }

    #[test]
    fn sqlite_specific_forms_render_as_json() {
        // TEXTRAW with a quote, INT5 hex, FLOAT5 ".5", TEXT5 "\x41".
        let mut raw = Vec::new();
        header(&mut raw, ARRAY, 0);
        let mut payload = Vec::new();
        for (kind, text) in [
            (TEXTRAW, "a\"b"),
            (INT5, "0x1F"),
            (FLOAT5, ".5"),
            (TEXT5, "\\x41\\'"),
        ] {
            header(&mut payload, kind, text.len());
            payload.extend_from_slice(text.as_bytes());
        }
        raw.clear();
        header(&mut raw, ARRAY, payload.len());
        raw.extend_from_slice(&payload);
        assert_eq!(to_json(&raw).unwrap(), r#"["a\"b",31,0.5,"\u0041'"]"#);
    }

    #[test]
    fn malformed_jsonb_is_refused() {
        assert!(to_json(&[0x2b, 0x13]).is_err()); // truncated
        assert!(to_json(&[0x1b, 0x10]).is_err()); // null with a payload
        assert!(to_json(&[0x2c, 0x13, b'1']).is_err()); // non-text key
        assert!(to_json(&[0x0d]).is_err()); // reserved type
        assert!(to_json(&[0x0b, 0x00]).is_err()); // bytes after the element
    }
}
