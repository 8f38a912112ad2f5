//! What this process was started as, captured first thing: the program a
//! restart runs again, and the listeners it inherited.
//!
//! The program is the path the process was started as (its `argv[0]`, as
//! nginx and tableflip take it), resolved only when a restart runs: a new
//! binary renamed over that path, a release directory switched by a
//! symlink (`current -> releases/v2`), are what the successor runs. The
//! kernel's own record (`/proc/self/exe`, `std::env::current_exe`) names
//! the file this process runs, which after an upgrade is the old one, or
//! `… (deleted)`. A name without a `/` was found through `PATH`, and is
//! looked up there again; a relative path is taken from the directory the
//! process started in. A wrapper script that `exec`s the binary is not in
//! `argv[0]`: it says `GRACEFUL_RESTART_PROGRAM="$0"` for a restart to run
//! it again.
//!
//! The listeners a service manager (or a predecessor) passed are made
//! close-on-exec at the same moment, before `main`'s body can start a
//! helper process that would hold them open.

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The program a restart runs, when it is not the path the process was
/// started as: a wrapper script that `exec`s the binary says
/// `GRACEFUL_RESTART_PROGRAM="$0"`.
const PROGRAM_VAR: &str = "GRACEFUL_RESTART_PROGRAM";

/// What the process was started as.
#[derive(Debug)]
struct Origin {
    /// `argv[0]`.
    argv0: OsString,
    /// The working directory at the start, for a relative `argv[0]`.
    cwd: io::Result<PathBuf>,
}

static ORIGIN: OnceLock<Origin> = OnceLock::new();

/// Captures what the process was started as, once: called as early as the
/// app can (the generated `main`, `App::new`), before `main`'s body runs.
pub(crate) fn capture() {
    ORIGIN.get_or_init(|| {
        close_inherited_on_exec();
        Origin {
            argv0: std::env::args_os().next().unwrap_or_default(),
            cwd: std::env::current_dir(),
        }
    });
}

/// The arguments a restart passes on: this process's own, after `argv[0]`.
pub(crate) fn args() -> Vec<OsString> {
    std::env::args_os().skip(1).collect()
}

/// The program a restart runs now: `GRACEFUL_RESTART_PROGRAM` if set, else
/// the path the process was started as, resolved as `execvp` would.
pub(crate) fn program() -> io::Result<PathBuf> {
    capture();
    if let Some(program) = std::env::var_os(PROGRAM_VAR).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(program));
    }
    let origin = ORIGIN
        .get()
        .ok_or_else(|| io::Error::other("not captured"))?;
    resolve(&origin.argv0, origin.cwd.as_deref().ok())
}

/// `argv0` as `execvp` finds it: a path if it has a `/` (relative to
/// `cwd`), else the first executable of that name on `PATH`.
fn resolve(argv0: &OsStr, cwd: Option<&Path>) -> io::Result<PathBuf> {
    if argv0.is_empty() {
        // Started with no argv[0] at all: only the kernel knows.
        return std::env::current_exe();
    }
    let path = Path::new(argv0);
    if argv0.as_encoded_bytes().contains(&b'/') {
        return Ok(match cwd {
            Some(cwd) if path.is_relative() => cwd.join(path),
            _ => path.to_owned(),
        });
    }
    let search = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&search)
        .map(|dir| dir.join(path))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} is not on PATH", path.display()),
            )
        })
}

fn is_executable(path: &Path) -> bool {
    let Ok(metadata) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        metadata.is_file() && metadata.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    metadata.is_file()
}

/// Marks the descriptors passed for socket activation (`LISTEN_FDS` from
/// 3, when `LISTEN_PID` is this process) close-on-exec, as
/// `sd_listen_fds(3)` does when they are taken: until then a helper process
/// started meanwhile would inherit, and keep, the listeners.
fn close_inherited_on_exec() {
    // `sd_notify::listen_fds` checks `LISTEN_PID` and marks them.
    #[cfg(unix)]
    if let Err(err) = sd_notify::listen_fds() {
        tracing::debug!(error = %err, "cannot read the inherited listeners yet");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_taken_as_given_relative_to_the_start_and_a_name_found_on_path() {
        let cwd = Path::new("/srv/app");
        assert_eq!(
            resolve("/srv/app/current/bin/app".as_ref(), Some(cwd)).unwrap(),
            Path::new("/srv/app/current/bin/app")
        );
        assert_eq!(
            resolve("current/bin/app".as_ref(), Some(cwd)).unwrap(),
            Path::new("/srv/app/current/bin/app")
        );
        // `sh` is on every PATH this runs with.
        let sh = resolve("sh".as_ref(), Some(cwd)).unwrap();
        assert!(sh.is_absolute() && sh.ends_with("sh"), "{}", sh.display());
    }
}
