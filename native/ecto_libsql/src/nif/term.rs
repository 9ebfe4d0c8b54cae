//! Conversion between Erlang terms and libSQL values, and the encoding of
//! results and errors as the Elixir structs `EctoLibSql.Result` and
//! `EctoLibSql.Error`.

use libsql::Value;
use rustler::types::tuple::get_tuple;
use rustler::{Atom, Binary, Encoder, Env, Term, TermType};

use crate::error::{Error, Result};

pub mod atoms {
    rustler::atoms! {
        nil,
        ok,
        error,
        blob,
        __struct__,
        columns,
        rows,
        num_rows,
        command,
        code,
        extended_code,
        message,
        statement,
        result_struct = "Elixir.EctoLibSql.Result",
        select,
        insert,
        update,
        delete,
        create,
        drop,
        alter,
        begin,
        commit,
        rollback,
        savepoint,
        release,
        pragma,
        explain,
        vacuum,
        analyze,
        attach,
        detach,
        reindex,
        other,
        dropped,
        sent,
        closed,
    }
}

/// The atom for a command name from `sql::command`, from the atoms made
/// once at load time rather than looked up in the atom table per result.
fn command_atom(command: &str) -> Atom {
    match command {
        "select" => atoms::select(),
        "insert" => atoms::insert(),
        "update" => atoms::update(),
        "delete" => atoms::delete(),
        "create" => atoms::create(),
        "drop" => atoms::drop(),
        "alter" => atoms::alter(),
        "begin" => atoms::begin(),
        "commit" => atoms::commit(),
        "rollback" => atoms::rollback(),
        "savepoint" => atoms::savepoint(),
        "release" => atoms::release(),
        "pragma" => atoms::pragma(),
        "explain" => atoms::explain(),
        "vacuum" => atoms::vacuum(),
        "analyze" => atoms::analyze(),
        "attach" => atoms::attach(),
        "detach" => atoms::detach(),
        "reindex" => atoms::reindex(),
        _ => atoms::other(),
    }
}

/// Converts one Elixir parameter into a libSQL value. Booleans become 1/0,
/// UTF-8 binaries TEXT, `{:blob, binary}` BLOB. Integers outside i64 and
/// binaries that are not UTF-8 are errors rather than silent changes.
pub fn decode_value(term: Term) -> Result<Value> {
    match term.get_type() {
        TermType::Atom => match term.atom_to_string().as_deref() {
            Ok("nil") => Ok(Value::Null),
            Ok("true") => Ok(Value::Integer(1)),
            Ok("false") => Ok(Value::Integer(0)),
            Ok(other) => Err(Error::misuse(format!(
                "cannot bind the atom :{other}: use nil, true, false, a number, a binary or {{:blob, binary}}"
            ))),
            Err(_) => Err(Error::misuse("cannot bind an unreadable atom")),
        },
        TermType::Integer => term
            .decode::<i64>()
            .map(Value::Integer)
            .map_err(|_| Error::misuse("integer parameter out of the 64-bit signed range SQLite stores")),
        TermType::Float => term
            .decode::<f64>()
            .map(Value::Real)
            .map_err(|_| Error::misuse("unreadable float parameter")),
        TermType::Binary => {
            // A bit string that is not whole bytes is a binary term too,
            // but not one that decodes as bytes.
            let bin: Binary = term.decode().map_err(|_| {
                Error::misuse("cannot bind a bit string that is not whole bytes: SQLite stores bytes")
            })?;
            match std::str::from_utf8(bin.as_slice()) {
                // libSQL 0.10 reads TEXT back as a C string, which ends at
                // the first NUL: such text would come back cut short.
                Ok(text) if text.as_bytes().contains(&0) => Err(Error::misuse(
                    "text parameter contains a NUL byte, which libSQL reads back cut short: pass {:blob, binary}",
                )),
                Ok(text) => Ok(Value::Text(text.to_owned())),
                Err(_) => Err(Error::misuse(
                    "binary parameter is not valid UTF-8 text: pass {:blob, binary} to store bytes",
                )),
            }
        }
        TermType::Tuple => {
            let elements = get_tuple(term).map_err(|_| Error::misuse("unreadable tuple parameter"))?;
            match elements.as_slice() {
                [tag, bytes] if tag.decode::<Atom>().ok() == Some(atoms::blob()) => {
                    let bin: Binary = bytes
                        .decode()
                        .map_err(|_| Error::misuse("{:blob, value} needs a binary value"))?;
                    Ok(Value::Blob(bin.as_slice().to_vec()))
                }
                _ => Err(Error::misuse(
                    "cannot bind a tuple: the only tuple parameter is {:blob, binary}",
                )),
            }
        }
        other => Err(Error::misuse(format!(
            "cannot bind a parameter of type {other:?}: use nil, a boolean, a number, a binary or {{:blob, binary}}"
        ))),
    }
}

/// Parameters as Elixir gives them: a list of values (positional) or a list
/// of `{name, value}` pairs (named; the Elixir layer turns maps and keyword
/// lists into that).
#[derive(Clone)]
pub enum Params {
    Positional(Vec<Value>),
    Named(Vec<(String, Value)>),
}

/// Reads `params`: a list of values, or `{:named, [{name, value}]}`.
pub fn decode_params(term: Term) -> Result<Params> {
    if let Ok(elements) = get_tuple(term) {
        if let [tag, list] = elements.as_slice() {
            if tag.atom_to_string().ok().as_deref() == Some("named") {
                let pairs: Vec<(String, Term)> = list.decode().map_err(|_| {
                    Error::misuse("named parameters must be {name, value} pairs with string names")
                })?;
                return pairs
                    .into_iter()
                    .map(|(name, value)| decode_value(value).map(|v| (name, v)))
                    .collect::<Result<_>>()
                    .map(Params::Named);
            }
        }
    }
    let list: Vec<Term> = term
        .decode()
        .map_err(|_| Error::misuse("parameters must be a list, a map or a keyword list"))?;
    list.into_iter()
        .map(decode_value)
        .collect::<Result<_>>()
        .map(Params::Positional)
}

/// SQL text from the binary Elixir passed: SQL that is not UTF-8 is a
/// `:misuse` error, never a `badarg` that would take the caller down.
pub fn sql_text(sql: Binary) -> Result<String> {
    std::str::from_utf8(sql.as_slice())
        .map(str::to_owned)
        .map_err(|_| Error::misuse("the SQL is not valid UTF-8 text"))
}

/// A statement's SQL and parameters, as one result.
pub fn sql_and_params(sql: Binary, params: Term) -> Result<(String, Params)> {
    Ok((sql_text(sql)?, decode_params(params)?))
}

/// Encodes a cell of either engine as the Elixir value users get back.
pub fn encode_cell<'a>(env: Env<'a>, cell: crate::engine::Cell<'_>) -> Term<'a> {
    use crate::engine::Cell;
    match cell {
        Cell::Null => atoms::nil().encode(env),
        Cell::Integer(i) => i.encode(env),
        Cell::Real(f) => f.encode(env),
        Cell::Text(s) => s.encode(env),
        Cell::Blob(b) => {
            let mut bin = rustler::NewBinary::new(env, b.len());
            bin.as_mut_slice().copy_from_slice(b);
            Term::from(bin)
        }
    }
}

/// `%EctoLibSql.Result{}` built directly, so the Elixir side has nothing to
/// reshape on the hot path.
pub fn encode_result<'a>(
    env: Env<'a>,
    command: &str,
    columns: Option<Term<'a>>,
    rows: Option<Term<'a>>,
    num_rows: u64,
) -> Term<'a> {
    let nil = atoms::nil().encode(env);
    let keys = [
        atoms::__struct__().encode(env),
        atoms::command().encode(env),
        atoms::columns().encode(env),
        atoms::rows().encode(env),
        atoms::num_rows().encode(env),
    ];
    let values = [
        atoms::result_struct().encode(env),
        command_atom(command).encode(env),
        columns.unwrap_or(nil),
        rows.unwrap_or(nil),
        num_rows.encode(env),
    ];
    Term::map_from_term_arrays(env, &keys, &values).unwrap_or(nil)
}

/// `%EctoLibSql.Error{}` for an error.
pub fn encode_error<'a>(env: Env<'a>, err: &Error) -> Term<'a> {
    let nil = atoms::nil().encode(env);
    let keys = [
        atoms::__struct__().encode(env),
        atoms::code().encode(env),
        atoms::extended_code().encode(env),
        atoms::message().encode(env),
        atoms::statement().encode(env),
        Atom::from_str(env, "constraint")
            .map(|a| a.encode(env))
            .unwrap_or(nil),
        Atom::from_str(env, "__exception__")
            .map(|a| a.encode(env))
            .unwrap_or(nil),
    ];
    let values = [
        Atom::from_str(env, "Elixir.EctoLibSql.Error")
            .map(|a| a.encode(env))
            .unwrap_or(nil),
        Atom::from_str(env, err.code())
            .map(|a| a.encode(env))
            .unwrap_or(nil),
        err.extended_code().encode(env),
        err.to_string().encode(env),
        nil,
        err.constraint().encode(env),
        true.encode(env),
    ];
    Term::map_from_term_arrays(env, &keys, &values).unwrap_or(nil)
}

/// `{:ok, term}` or `{:error, %EctoLibSql.Error{}}`.
pub fn reply<'a>(env: Env<'a>, result: Result<Term<'a>>) -> Term<'a> {
    match result {
        Ok(term) => (atoms::ok(), term).encode(env),
        Err(err) => (atoms::error(), encode_error(env, &err)).encode(env),
    }
}
