//! CPU time and resident memory of the server under test, from /proc (Linux).

/// Clock ticks per second of /proc/<pid>/stat times: USER_HZ, 100 on every Linux architecture we run on.
const TICKS_PER_SECOND: u64 = 100;

#[derive(Debug, Clone, Copy)]
pub struct ServerProcess {
    pid: u32,
}

impl ServerProcess {
    pub fn new(pid: u32) -> Self {
        Self { pid }
    }

    /// User + system CPU time so far, in milliseconds.
    pub fn cpu_ms(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        // The command name (field 2) may contain spaces; fields after its closing parenthesis are plain.
        let after_name = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = after_name.split(' ').collect();
        // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
        let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(ticks * 1000 / TICKS_PER_SECOND)
    }

    /// Resident set size, in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }
}
