//! Where something was declared, for errors that name it.

use std::fmt;
use std::panic::Location;

/// Where a server, a callback or a provided state was declared: the
/// function an attribute is on, when there is one, and its file and line.
/// Errors and [`Problem`](crate::Problem)s name what they are about with it.
///
/// ```
/// # fn check(problem: &graceful::Problem) {
/// if let graceful::Problem::NoAddress { server, functions } = problem {
///     for site in functions {
///         eprintln!("{server}: {:?} at {}:{}", site.function, site.file, site.line);
///     }
/// }
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct Site {
    /// The function the attribute is on; `None` for what code built
    /// ([`Server::new`](crate::Server::new), [`provide`](crate::provide)).
    pub function: Option<&'static str>,
    /// The source file.
    pub file: &'static str,
    /// The line in it.
    pub line: u32,
}

impl Site {
    /// Where the caller is.
    #[track_caller]
    pub(crate) fn caller() -> Self {
        let location = Location::caller();
        Site {
            function: None,
            file: location.file(),
            line: location.line(),
        }
    }

    /// Where `function` is declared.
    pub(crate) fn function(function: &'static str, file: &'static str, line: u32) -> Self {
        Site {
            function: Some(function),
            file,
            line,
        }
    }
}

/// `` `users` at src/main.rs:12 ``, or `src/main.rs:12`.
impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.function {
            Some(function) => write!(f, "`{function}` at {}:{}", self.file, self.line),
            None => write!(f, "{}:{}", self.file, self.line),
        }
    }
}
