//! JSON text to SQLite's JSONB and back (see `crate::jsonb`), for
//! `map_type: :binary` / `array_type: :binary`. Pure CPU work at about a
//! byte per nanosecond: `EctoLibSql.Native` converts small documents on
//! the calling scheduler and large ones with the `_dirty` variants, on a
//! dirty CPU scheduler, so no call keeps a normal scheduler for long.

use rustler::{Binary, Env, NewBinary, Term};

use crate::error::Error;
use crate::jsonb;
use crate::nif::term::reply;

fn binary<'a>(env: Env<'a>, bytes: &[u8]) -> Term<'a> {
    reply(env, Ok(NewBinary::from_slice(env, bytes).into()))
}

fn to_jsonb<'a>(env: Env<'a>, text: Binary<'a>) -> Term<'a> {
    match jsonb::from_json(text.as_slice()) {
        Ok(bytes) => binary(env, &bytes),
        Err(invalid) => reply(env, Err(Error::misuse(format!("invalid JSON: {invalid}")))),
    }
}

fn to_json<'a>(env: Env<'a>, bytes: Binary<'a>) -> Term<'a> {
    match jsonb::to_json(bytes.as_slice()) {
        Ok(text) => binary(env, text.as_bytes()),
        Err(invalid) => reply(env, Err(Error::misuse(format!("invalid JSONB: {invalid}")))),
    }
}

#[rustler::nif]
fn json_to_jsonb<'a>(env: Env<'a>, text: Binary<'a>) -> Term<'a> {
    to_jsonb(env, text)
}

#[rustler::nif(schedule = "DirtyCpu")]
fn json_to_jsonb_dirty<'a>(env: Env<'a>, text: Binary<'a>) -> Term<'a> {
    to_jsonb(env, text)
}

#[rustler::nif]
fn jsonb_to_json<'a>(env: Env<'a>, bytes: Binary<'a>) -> Term<'a> {
    to_json(env, bytes)
}

#[rustler::nif(schedule = "DirtyCpu")]
fn jsonb_to_json_dirty<'a>(env: Env<'a>, bytes: Binary<'a>) -> Term<'a> {
    to_json(env, bytes)
}

/// Whether `bytes` start like a JSONB object or array.
#[rustler::nif]
fn jsonb_container(bytes: Binary) -> bool {
    jsonb::is_container(bytes.as_slice())
}
