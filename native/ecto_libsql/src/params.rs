//! Parameter binding rules: positional lists must match the statement's
//! parameter count, named parameters are matched to the statement's own
//! `:name`/`@name`/`$name` placeholders, and identifiers we splice into SQL
//! (savepoint and pragma names) are validated.

use crate::error::{Error, Result};

/// The name a placeholder is known by, without its `:`, `@` or `$` prefix.
/// `?NNN` placeholders keep their full text so they can be named too.
pub fn bare_name(name: &str) -> &str {
    match name.as_bytes().first() {
        Some(b':') | Some(b'@') | Some(b'$') => &name[1..],
        _ => name,
    }
}

/// Orders named values by the statement's placeholders. `placeholders[i]` is
/// the name of parameter `i + 1` (`None` for an anonymous `?`). Every
/// placeholder must get a value and every value must name a placeholder:
/// SQLite would otherwise bind NULL silently or ignore the value.
pub fn order_named<V>(placeholders: &[Option<String>], values: Vec<(String, V)>) -> Result<Vec<V>> {
    let mut slots: Vec<Option<V>> = placeholders.iter().map(|_| None).collect();
    for (name, value) in values {
        let wanted = bare_name(&name);
        let index = placeholders
            .iter()
            .position(|p| p.as_deref().map(bare_name) == Some(wanted))
            .ok_or_else(|| {
                Error::misuse(format!("the statement has no parameter named {name:?}"))
            })?;
        if slots[index].replace(value).is_some() {
            return Err(Error::misuse(format!("parameter {name:?} is given twice")));
        }
    }
    slots
        .into_iter()
        .enumerate()
        .map(|(i, slot)| {
            slot.ok_or_else(|| match &placeholders[i] {
                Some(name) => Error::misuse(format!("no value given for parameter {name}")),
                None => Error::misuse(format!(
                    "parameter {} is positional (?), it cannot be bound by name",
                    i + 1
                )),
            })
        })
        .collect()
}

/// Checks a positional parameter list against the statement's count.
pub fn check_count(expected: usize, given: usize) -> Result<()> {
    if expected == given {
        Ok(())
    } else {
        Err(Error::misuse(format!(
            "wrong number of parameters: the statement takes {expected}, {given} given"
        )))
    }
}

/// A name that can be spliced into SQL unquoted: a letter or underscore,
/// then letters, digits or underscores, at most 128 bytes.
pub fn check_identifier(kind: &str, name: &str) -> Result<()> {
    let mut bytes = name.bytes();
    let first_ok = matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_');
    if first_ok && name.len() <= 128 && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(())
    } else {
        Err(Error::misuse(format!(
            "invalid {kind} name {name:?}: use letters, digits and underscores, starting with a letter or underscore"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names(list: &[Option<&str>]) -> Vec<Option<String>> {
        list.iter().map(|n| n.map(String::from)).collect()
    }

    #[test]
    fn prefixes_are_interchangeable() {
        let ph = names(&[Some(":a"), Some("@b"), Some("$c")]);
        let given = vec![
            ("c".to_string(), 3),
            ("$b".to_string(), 2),
            (":a".to_string(), 1),
        ];
        assert_eq!(order_named(&ph, given).unwrap(), vec![1, 2, 3]);
    }

    #[test]
    fn missing_unknown_and_duplicate_names_are_errors() {
        let ph = names(&[Some(":a"), Some(":b")]);
        assert!(order_named(&ph, vec![("a".to_string(), 1)]).is_err());
        assert!(order_named(&ph, vec![("a".into(), 1), ("b".into(), 2), ("z".into(), 3)]).is_err());
        assert!(order_named(&ph, vec![("a".into(), 1), (":a".into(), 2)]).is_err());
    }

    #[test]
    fn anonymous_placeholders_cannot_be_named() {
        let ph = names(&[None]);
        let err = order_named::<i32>(&ph, vec![]).unwrap_err();
        assert!(err.to_string().contains("positional"));
    }

    #[test]
    fn identifiers() {
        assert!(check_identifier("savepoint", "sp_1").is_ok());
        assert!(check_identifier("savepoint", "_x").is_ok());
        assert!(check_identifier("savepoint", "1x").is_err());
        assert!(check_identifier("savepoint", "a; DROP TABLE t").is_err());
        assert!(check_identifier("savepoint", "").is_err());
    }

    proptest! {
        #[test]
        fn identifiers_never_let_sql_through(name in ".*") {
            if check_identifier("x", &name).is_ok() {
                prop_assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
            }
        }

        #[test]
        fn named_values_land_in_their_slot(n in 1usize..20, seed in any::<u64>()) {
            let ph: Vec<Option<String>> = (0..n).map(|i| Some(format!(":p{i}"))).collect();
            let mut given: Vec<(String, usize)> = (0..n).map(|i| (format!("p{i}"), i)).collect();
            // A deterministic shuffle: the order values are given in must not matter.
            given.sort_by_key(|(name, _)| (name.len() as u64).wrapping_mul(seed) ^ name.bytes().map(u64::from).sum::<u64>());
            prop_assert_eq!(order_named(&ph, given).unwrap(), (0..n).collect::<Vec<_>>());
        }
    }
}
