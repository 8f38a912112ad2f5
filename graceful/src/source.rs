//! Where a server or a callback was declared, for error messages.

use std::fmt;
use std::panic::Location;

/// Where something was declared, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Source {
    pub(crate) file: &'static str,
    pub(crate) line: u32,
}

impl Source {
    #[track_caller]
    pub(crate) fn caller() -> Self {
        let location = Location::caller();
        Source {
            file: location.file(),
            line: location.line(),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}
