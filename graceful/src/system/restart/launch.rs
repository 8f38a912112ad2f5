//! Starting a successor without a shell: the program and its arguments,
//! this process's environment (every variable, whatever its name: a shell
//! drops those that are not identifiers, such as `a.b` or `1X`), the
//! listeners at descriptors 3 and up as socket activation wants them, in a
//! process group of its own (so that a successor that fails is killed with
//! every child it started, which would hold the listeners).
//!
//! Socket activation names the process the listeners are for
//! (`LISTEN_PID`, and `WATCHDOG_PID` when the service manager watches), and
//! the successor's pid exists only once it is forked. Everything is laid
//! out before the fork: the child only writes its pid's digits into room
//! left for them, and `execve`s; it allocates nothing, since another
//! thread may have held the allocator's lock at the fork.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// At most this many listeners are handed over.
pub(crate) const MAX_LISTENERS: usize = 64;

/// The variables a launch sets, and so never passes on from this process.
const OURS: [&str; 6] = [
    "LISTEN_PID",
    "LISTEN_FDS",
    "LISTEN_FDNAMES",
    "WATCHDOG_PID",
    super::successor::SOCKET_VAR,
    super::successor::PID_VAR,
];

/// Room for a pid's digits and the terminating NUL.
const PID_ROOM: usize = 21;

/// A successor's command line and environment, ready for the fork.
#[derive(Debug)]
pub(crate) struct Launch {
    program: CString,
    /// `argv`: its strings, and their addresses with a null at the end.
    #[expect(dead_code, reason = "owns the strings `arg_ptrs` points to")]
    args: Vec<CString>,
    arg_ptrs: Vec<usize>,
    /// `envp`: `NAME=value\0` entries, and their addresses with a null at
    /// the end; the entries at `pid_slots` have room for a pid after the `=`.
    env: Vec<Vec<u8>>,
    env_ptrs: Vec<usize>,
    pid_slots: Vec<usize>,
    /// The listeners, placed at 3, 4, ... in this order.
    fds: Vec<RawFd>,
}

impl Launch {
    /// `program` with `args` and this process's environment, `set` added,
    /// and the pid variables of socket activation for the child.
    pub(crate) fn new(
        program: &Path,
        args: &[OsString],
        set: &[(&str, &OsStr)],
        fds: Vec<RawFd>,
    ) -> io::Result<Launch> {
        let c = |bytes: &[u8]| {
            CString::new(bytes).map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in an argument")
            })
        };
        let program = c(program.as_os_str().as_bytes())?;
        let mut all_args = vec![program.clone()];
        for arg in args {
            all_args.push(c(arg.as_bytes())?);
        }
        let watched = std::env::var_os("WATCHDOG_USEC").is_some();
        let mut env: Vec<Vec<u8>> = std::env::vars_os()
            .filter(|(name, _)| !OURS.iter().any(|ours| name == ours))
            .map(|(name, value)| entry(name.as_bytes(), value.as_bytes()))
            .chain(
                set.iter()
                    .map(|(name, value)| entry(name.as_bytes(), value.as_bytes())),
            )
            .collect();
        let mut pid_slots = Vec::new();
        let pid_vars = ["LISTEN_PID", super::successor::PID_VAR];
        let pid_vars = pid_vars.iter().chain(watched.then_some(&"WATCHDOG_PID"));
        for name in pid_vars {
            pid_slots.push(env.len());
            env.push(entry(name.as_bytes(), &[0; PID_ROOM - 1]));
        }
        let arg_ptrs = addresses(all_args.iter().map(|arg| arg.as_ptr() as usize));
        let env_ptrs = addresses(env.iter().map(|entry| entry.as_ptr() as usize));
        Ok(Launch {
            program,
            args: all_args,
            arg_ptrs,
            env,
            env_ptrs,
            pid_slots,
            fds,
        })
    }

    /// Starts the successor.
    #[allow(unsafe_code)]
    pub(crate) fn spawn(mut self) -> io::Result<tokio::process::Child> {
        if self.fds.len() > MAX_LISTENERS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} listeners; at most {MAX_LISTENERS} are handed over",
                    self.fds.len()
                ),
            ));
        }
        let mut command =
            tokio::process::Command::new(std::ffi::OsStr::from_bytes(self.program.as_bytes()));
        // SAFETY: the closure runs in the forked child before exec, and
        // calls only async-signal-safe functions (fcntl, dup2, setpgid,
        // getpid, execve) on memory it owns: it allocates nothing. The
        // descriptors it borrows are this process's listeners, open while
        // it runs (a restart is refused once the shutdown, which closes
        // them, has begun; the child is forked before that). The addresses
        // in `arg_ptrs` and `env_ptrs` point into the heap buffers of
        // `args` and `env`, which the closure owns and which neither move
        // nor grow: the child writes the pid's digits within each slot's
        // room, whose last byte stays NUL.
        unsafe {
            command.pre_exec(move || {
                place_listeners(&self.fds)?;
                nix::unistd::setpgid(nix::unistd::Pid::from_raw(0), nix::unistd::Pid::from_raw(0))?;
                let pid = nix::unistd::getpid().as_raw();
                for &slot in &self.pid_slots {
                    let entry = &mut self.env[slot];
                    let digits = entry.len() - PID_ROOM;
                    write_decimal(&mut entry[digits..], pid);
                }
                nix::libc::execve(
                    self.program.as_ptr(),
                    self.arg_ptrs.as_ptr().cast(),
                    self.env_ptrs.as_ptr().cast(),
                );
                Err(io::Error::last_os_error())
            });
        }
        command.spawn()
    }
}

/// `NAME=value` and a NUL.
fn entry(name: &[u8], value: &[u8]) -> Vec<u8> {
    let mut entry = Vec::with_capacity(name.len() + value.len() + 2);
    entry.extend_from_slice(name);
    entry.push(b'=');
    entry.extend_from_slice(value);
    entry.push(0);
    entry
}

/// The addresses, and a null after them.
fn addresses(of: impl Iterator<Item = usize>) -> Vec<usize> {
    of.chain(std::iter::once(0)).collect()
}

/// Writes `n` in decimal at the start of `room`, NUL-terminated, without
/// allocating.
fn write_decimal(room: &mut [u8], n: i32) {
    let mut digits = [0u8; 20];
    let mut len = 0;
    let mut n = n.unsigned_abs();
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for (i, digit) in digits[..len].iter().rev().enumerate() {
        room[i] = *digit;
    }
    room[len] = 0;
}

/// Puts `fds` at descriptors 3, 4, ... of the child, as socket activation
/// wants them: first copied out of the way (above every target, closed at
/// exec), then duplicated into place (kept at exec). In the child, before
/// exec: async-signal-safe calls only, no allocation.
#[allow(unsafe_code)]
fn place_listeners(fds: &[RawFd]) -> io::Result<()> {
    use std::os::fd::BorrowedFd;

    use nix::fcntl::{FcntlArg, fcntl};
    let first = 3;
    let mut moved = [0; MAX_LISTENERS];
    for (i, &fd) in fds.iter().enumerate() {
        // SAFETY: `fd` is one of this process's listeners, open while the
        // child is forked (see `Launch::spawn`).
        let listener = unsafe { BorrowedFd::borrow_raw(fd) };
        moved[i] = fcntl(
            listener,
            FcntlArg::F_DUPFD_CLOEXEC(first + fds.len() as i32),
        )?;
    }
    for (i, &fd) in moved[..fds.len()].iter().enumerate() {
        // SAFETY: `fd` was just duplicated above, and is open; the target
        // descriptor, 3 and up, is taken over by design (socket
        // activation's place for the listeners), and nothing in the child
        // uses what it held before exec.
        let placed = unsafe {
            let copy = BorrowedFd::borrow_raw(fd);
            nix::unistd::dup2_raw(copy, first + i as i32)?
        };
        // Kept open for the program the child becomes.
        std::mem::forget(placed);
    }
    Ok(())
}

/// Kills a successor that failed, and every process of its group: the
/// children it started (a shell script's) would hold the listeners.
pub(crate) fn kill_group(pid: u32) {
    let Ok(pid) = i32::try_from(pid) else {
        return;
    };
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_is_written_in_decimal_and_terminated() {
        let mut room = [7u8; PID_ROOM];
        write_decimal(&mut room, 4_194_304);
        assert_eq!(&room[..8], b"4194304\0");
        write_decimal(&mut room, 1);
        assert_eq!(&room[..2], b"1\0");
    }

    #[test]
    fn the_environment_keeps_every_name_and_replaces_the_launch_s_own() {
        let launch = Launch::new(
            Path::new("/bin/true"),
            &[OsString::from("--flag")],
            &[("LISTEN_FDS", OsStr::new("1"))],
            vec![],
        )
        .unwrap();
        let names: Vec<&[u8]> = launch
            .env
            .iter()
            .map(|entry| entry.split(|&b| b == b'=').next().unwrap_or_default())
            .collect();
        assert_eq!(names.iter().filter(|n| **n == b"LISTEN_FDS").count(), 1);
        assert_eq!(names.iter().filter(|n| **n == b"LISTEN_PID").count(), 1);
        assert_eq!(launch.arg_ptrs.len(), 3);
        assert_eq!(launch.arg_ptrs.last(), Some(&0));
        assert_eq!(launch.env_ptrs.len(), launch.env.len() + 1);
    }
}
