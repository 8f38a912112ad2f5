//! The one argument grammar of every attribute: `key = value, ...`.
//!
//! Every attribute declares its keys in a constant [`Key`] list; the
//! "expected one of" messages are built from that same list, so the grammar
//! and its error messages cannot drift apart. Every problem is collected, not
//! only the first. `model` turns the checked values into each attribute's
//! typed arguments; nothing else reads them by key.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, LitInt, LitStr, Token, UnOp};

use graceful_values::When;
use graceful_values::settings::{self, Kind, SETTINGS};

use crate::errors::Errors;

/// What a key's value must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ValueKind {
    /// A string literal.
    Str,
    /// A string literal holding a duration such as `"3s"`.
    Duration,
    /// An integer literal.
    Int,
    /// A path, such as `::graceful`.
    Path,
    /// A function's path, such as `export`.
    Function,
    /// A string literal holding a moment of the shutdown, `"signal"` or
    /// `"drained"`, read with the runtime's parser.
    When,
    /// A string literal holding a setting of `#[graceful::main]`, read with
    /// its kind's parser.
    Setting(Kind),
}

impl ValueKind {
    fn example(self) -> &'static str {
        match self {
            ValueKind::Str => "a string literal",
            ValueKind::Duration => "a duration string such as \"500ms\", \"3s\" or \"1m\"",
            ValueKind::Int => "an integer such as 0",
            ValueKind::Path => "a path such as `::graceful`",
            ValueKind::Function => "a function's path such as `export_report`",
            ValueKind::When => "\"signal\" or \"drained\"",
            ValueKind::Setting(kind) => kind.example(),
        }
    }
}

/// A key an attribute accepts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Key {
    pub(crate) name: &'static str,
    pub(crate) kind: ValueKind,
}

/// The keys `#[graceful::server]` accepts.
pub(crate) const SERVER_KEYS: &[Key] = &[
    Key {
        name: "name",
        kind: ValueKind::Str,
    },
    Key {
        name: "addr",
        kind: ValueKind::Str,
    },
    Key {
        name: "path",
        kind: ValueKind::Str,
    },
    Key {
        name: "tls_cert",
        kind: ValueKind::Str,
    },
    Key {
        name: "tls_key",
        kind: ValueKind::Str,
    },
    Key {
        name: "crate",
        kind: ValueKind::Path,
    },
];

/// The keys `#[graceful::on_shutdown]` accepts.
pub(crate) const ON_SHUTDOWN_KEYS: &[Key] = &[
    Key {
        name: "name",
        kind: ValueKind::Str,
    },
    Key {
        name: "timeout",
        kind: ValueKind::Duration,
    },
    Key {
        name: "phase",
        kind: ValueKind::Int,
    },
    Key {
        name: "when",
        kind: ValueKind::When,
    },
    Key {
        name: "crate",
        kind: ValueKind::Path,
    },
];

/// The keys `#[graceful::task]` accepts.
pub(crate) const TASK_KEYS: &[Key] = &[
    Key {
        name: "name",
        kind: ValueKind::Str,
    },
    Key {
        name: "stop",
        kind: ValueKind::When,
    },
    Key {
        name: "timeout",
        kind: ValueKind::Duration,
    },
    Key {
        name: "phase",
        kind: ValueKind::Int,
    },
    Key {
        name: "crate",
        kind: ValueKind::Path,
    },
];

/// The keys `#[graceful::main]` accepts: every setting of the description,
/// then `on_report` (the function given the final report) and `crate`.
pub(crate) fn main_keys() -> Vec<Key> {
    SETTINGS
        .iter()
        .map(|setting| Key {
            name: setting.name,
            kind: ValueKind::Setting(setting.kind),
        })
        .chain([
            Key {
                name: "on_report",
                kind: ValueKind::Function,
            },
            Key {
                name: "crate",
                kind: ValueKind::Path,
            },
        ])
        .collect()
}

/// A checked value.
#[derive(Clone)]
pub(crate) enum Value {
    Str(LitStr),
    Duration { nanos: u64 },
    Int(i32),
    Path(syn::Path),
    Setting(settings::Value),
    When(When),
}

/// The arguments of one attribute, every key known and given once.
#[derive(Default)]
pub(crate) struct Args {
    values: Vec<(&'static str, Value)>,
}

impl Args {
    /// Parses `key = value, ...` against `keys`, recording every problem in `errors`.
    pub(crate) fn parse(tokens: TokenStream, keys: &[Key], errors: &mut Errors) -> Args {
        let mut args = Args::default();
        let mut seen: Vec<&str> = Vec::new();
        let parser = |input: ParseStream<'_>| {
            while !input.is_empty() {
                match parse_one(input, keys) {
                    Ok((key, span, value)) => {
                        if seen.contains(&key.name) {
                            errors.push(syn::Error::new(
                                span,
                                format!("`{}` is given twice; give it once", key.name),
                            ));
                        } else {
                            seen.push(key.name);
                            match check(&key, value) {
                                Ok(value) => args.values.push((key.name, value)),
                                Err(err) => errors.push(err),
                            }
                        }
                    }
                    Err(err) => {
                        errors.push(err);
                        // Skip to the next argument, to report its problems too.
                        while !input.is_empty() && !input.peek(Token![,]) {
                            input.parse::<proc_macro2::TokenTree>()?;
                        }
                    }
                }
                if input.is_empty() {
                    break;
                }
                input.parse::<Token![,]>()?;
            }
            Ok(())
        };
        if let Err(err) = parser.parse2(tokens) {
            errors.push(err);
        }
        args
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.values.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// A string argument.
    pub(crate) fn str(&self, key: &str) -> Option<&LitStr> {
        match self.get(key) {
            Some(Value::Str(lit)) => Some(lit),
            _ => None,
        }
    }

    /// A duration argument, in nanoseconds.
    pub(crate) fn duration(&self, key: &str) -> Option<u64> {
        match self.get(key) {
            Some(Value::Duration { nanos }) => Some(*nanos),
            _ => None,
        }
    }

    /// The settings given, in the order given.
    pub(crate) fn settings(&self) -> impl Iterator<Item = (&'static str, &settings::Value)> {
        self.values.iter().filter_map(|(key, value)| match value {
            Value::Setting(value) => Some((*key, value)),
            _ => None,
        })
    }

    /// A moment argument.
    pub(crate) fn when(&self, key: &str) -> Option<When> {
        match self.get(key) {
            Some(Value::When(when)) => Some(*when),
            _ => None,
        }
    }

    /// An integer argument.
    pub(crate) fn int(&self, key: &str) -> Option<i32> {
        match self.get(key) {
            Some(Value::Int(value)) => Some(*value),
            _ => None,
        }
    }

    /// A path key's value, if given.
    pub(crate) fn path(&self, key: &str) -> Option<&syn::Path> {
        match self.get(key) {
            Some(Value::Path(path)) => Some(path),
            _ => None,
        }
    }

    /// The path to the runtime crate: `crate = ...`, or `::graceful`.
    pub(crate) fn krate(&self) -> syn::Path {
        self.path("crate")
            .cloned()
            .unwrap_or_else(|| syn::parse_quote!(::graceful))
    }
}

/// The list of keys, for messages: `` `name`, `addr`, `path` or `crate` ``.
pub(crate) fn expected(keys: &[Key]) -> String {
    let names: Vec<String> = keys.iter().map(|k| format!("`{}`", k.name)).collect();
    match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

fn parse_one(input: ParseStream<'_>, keys: &[Key]) -> syn::Result<(Key, Span, Expr)> {
    if !(input.peek(Ident::peek_any)) {
        let found: proc_macro2::TokenTree = input.parse()?;
        return Err(syn::Error::new(
            found.span(),
            format!(
                "expected `key = value`, with a key among {}",
                expected(keys)
            ),
        ));
    }
    let ident = input.call(Ident::parse_any)?;
    let name = ident.to_string();
    let Some(key) = keys.iter().find(|k| k.name == name) else {
        return Err(syn::Error::new(
            ident.span(),
            format!(
                "unknown argument `{name}`; expected one of {}",
                expected(keys)
            ),
        ));
    };
    if !input.peek(Token![=]) {
        return Err(syn::Error::new(
            ident.span(),
            format!(
                "`{name}` needs a value: write `{name} = ...` with {}",
                key.kind.example()
            ),
        ));
    }
    input.parse::<Token![=]>()?;
    let value: Expr = input.parse()?;
    Ok((*key, ident.span(), value))
}

fn check(key: &Key, value: Expr) -> syn::Result<Value> {
    let wrong =
        |span: Span| syn::Error::new(span, format!("`{}` takes {}", key.name, key.kind.example()));
    match key.kind {
        ValueKind::Str | ValueKind::Duration | ValueKind::When => {
            let Expr::Lit(ExprLit {
                lit: Lit::Str(lit), ..
            }) = value
            else {
                return Err(wrong(value.span()));
            };
            if key.kind == ValueKind::Str {
                return Ok(Value::Str(lit));
            }
            if key.kind == ValueKind::When {
                return lit
                    .value()
                    .parse::<When>()
                    .map(Value::When)
                    .map_err(|reason| syn::Error::new(lit.span(), reason));
            }
            parse_duration(&lit.value())
                .map(|nanos| Value::Duration { nanos })
                .map_err(|reason| syn::Error::new(lit.span(), reason))
        }
        ValueKind::Int => {
            let (lit, negative): (LitInt, bool) = match value {
                Expr::Lit(ExprLit {
                    lit: Lit::Int(lit), ..
                }) => (lit, false),
                Expr::Unary(ExprUnary {
                    op: UnOp::Neg(_),
                    ref expr,
                    ..
                }) => match &**expr {
                    Expr::Lit(ExprLit {
                        lit: Lit::Int(lit), ..
                    }) => (lit.clone(), true),
                    _ => return Err(wrong(value.span())),
                },
                _ => return Err(wrong(value.span())),
            };
            let magnitude: i64 = lit.base10_parse()?;
            let value = if negative { -magnitude } else { magnitude };
            i32::try_from(value)
                .map(Value::Int)
                .map_err(|_| syn::Error::new(lit.span(), "the phase must fit an `i32`"))
        }
        ValueKind::Setting(kind) => {
            // A count may be written as an integer; its digits go through
            // the same parser as the environment's text.
            let (text, span) = match value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(lit), ..
                }) => (lit.value(), lit.span()),
                Expr::Lit(ExprLit {
                    lit: Lit::Int(lit), ..
                }) if kind == Kind::Count && lit.suffix().is_empty() => {
                    (lit.base10_digits().to_owned(), lit.span())
                }
                _ => return Err(wrong(value.span())),
            };
            kind.parse(&text).map(Value::Setting).map_err(|reason| {
                let reason = match kind {
                    Kind::Duration => format!("invalid duration {:?}: {reason}", text.trim()),
                    Kind::Interval => format!("invalid interval {:?}: {reason}", text.trim()),
                    Kind::Signals | Kind::SignalsOrNone | Kind::Path | Kind::Count | Kind::Addr => {
                        reason
                    }
                };
                syn::Error::new(span, reason)
            })
        }
        ValueKind::Path | ValueKind::Function => match value {
            Expr::Path(path) if path.qself.is_none() => Ok(Value::Path(path.path)),
            _ => Err(wrong(value.span())),
        },
    }
}

/// Parses a duration with the runtime's parser, as nanoseconds.
fn parse_duration(text: &str) -> Result<u64, String> {
    let duration = graceful_values::parse_duration(text)
        .map_err(|reason| format!("invalid duration {:?}: {reason}", text.trim()))?;
    u64::try_from(duration.as_nanos()).map_err(|_| format!("the duration {text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_lists_every_key_from_the_constant() {
        assert_eq!(
            expected(SERVER_KEYS),
            "`name`, `addr`, `path`, `tls_cert`, `tls_key` or `crate`"
        );
    }

    /// The compile test of `#[graceful::main]` gives every setting, so each
    /// expands to a builder method that exists.
    #[test]
    fn the_main_compile_test_covers_every_setting() {
        let test = include_str!("../../tests/ui/pass/main_arguments.rs");
        for setting in SETTINGS {
            assert!(
                test.contains(&format!("{} = ", setting.name)),
                "{}",
                setting.name
            );
        }
    }

    #[test]
    fn durations_parse_as_the_runtime_does() {
        assert_eq!(parse_duration("500ms"), Ok(500_000_000));
        assert_eq!(parse_duration("1m"), Ok(60_000_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert!(parse_duration("3").is_err());
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("366days").is_err());
        assert!(parse_duration("300000000000y").is_err());
    }
}
