//! JSON with a fixed key order and JavaScript's number format: a small
//! value type and its writer.
//!
//! Why not `serde_json::Value` (serde_json already writes the strings and the
//! fractional numbers here):
//! - Its key order depends on serde_json's `preserve_order` feature, which
//!   any crate in the build can switch on (feature unification): sorted
//!   without it, insertion order with it. The fixtures need CyTube's order
//!   (`{"at_ms": .., "event": .., "data": ..}`) whatever the features are, and
//!   switching the feature on here would reorder every `Value` in the
//!   workspace, the traces the sim hashes among them.
//! - It prints a float such as rank `2.0` as `2.0`; `JSON.stringify`, and so
//!   CyTube, prints `2`.
//! - messy.jsonl carries number literals no JavaScript server sends; one of
//!   them, `18446744073709551616`, does not fit a `serde_json::Number`
//!   without the `arbitrary_precision` feature (workspace-wide again).
//!   [`J::Raw`] writes it, and `12.0`, as given.
//!
//! A custom `serde_json::ser::Formatter` could produce the spacing
//! (`", "`, `": "`), but it would still need a value type like this one to
//! serialize (for the order and the numbers), so it would add a layer
//! without removing one.

use std::fmt::Write as _;

/// A JSON value whose objects keep the order they were built in.
#[derive(Clone, Debug)]
pub(crate) enum J {
    Null,
    Bool(bool),
    Int(i64),
    /// A JavaScript number: integral values print without a fraction, as
    /// `JSON.stringify` does.
    Num(f64),
    /// Pre-formatted JSON text, for numbers JavaScript would never print
    /// (`12.0`, `18446744073709551616`). Checked by [`check`].
    Raw(&'static str),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl From<&str> for J {
    fn from(v: &str) -> J {
        J::Str(v.to_string())
    }
}
impl From<String> for J {
    fn from(v: String) -> J {
        J::Str(v)
    }
}
impl From<&String> for J {
    fn from(v: &String) -> J {
        J::Str(v.clone())
    }
}
impl From<bool> for J {
    fn from(v: bool) -> J {
        J::Bool(v)
    }
}
impl From<i32> for J {
    fn from(v: i32) -> J {
        J::Int(i64::from(v))
    }
}
impl From<u32> for J {
    fn from(v: u32) -> J {
        J::Int(i64::from(v))
    }
}
impl From<i64> for J {
    fn from(v: i64) -> J {
        J::Int(v)
    }
}
impl From<u64> for J {
    fn from(v: u64) -> J {
        J::Int(i64::try_from(v).expect("fits in i64"))
    }
}
impl From<f64> for J {
    fn from(v: f64) -> J {
        J::Num(v)
    }
}
impl From<Vec<J>> for J {
    fn from(v: Vec<J>) -> J {
        J::Arr(v)
    }
}

/// `obj! { "key" => value, ... }` builds a [`J::Obj`] in the order written.
macro_rules! obj {
    ($($k:expr => $v:expr),* $(,)?) => {
        $crate::json::J::Obj(vec![$(($k.to_string(), $crate::json::J::from($v))),*])
    };
}
pub(crate) use obj;

pub(crate) fn write_json(out: &mut String, v: &J) {
    match v {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Int(i) => {
            let _ = write!(out, "{i}");
        }
        J::Num(f) => {
            if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 {
                let _ = write!(out, "{}", *f as i64);
            } else {
                out.push_str(&serde_json::to_string(f).expect("finite number"));
            }
        }
        J::Raw(r) => out.push_str(r),
        J::Str(s) => write_str(out, s),
        J::Arr(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json(out, item);
            }
            out.push(']');
        }
        J::Obj(fields) => {
            out.push('{');
            for (i, (k, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str(out, k);
                out.push_str(": ");
                write_json(out, item);
            }
            out.push('}');
        }
    }
}

/// serde_json escapes quotes, backslashes and control characters; U+2028 and
/// U+2029 are escaped too, so that no reader that treats them as line breaks
/// can split a line.
fn write_str(out: &mut String, s: &str) {
    let quoted = serde_json::to_string(s).expect("string");
    out.push_str(&quoted.replace('\u{2028}', "\\u2028").replace('\u{2029}', "\\u2029"));
}
