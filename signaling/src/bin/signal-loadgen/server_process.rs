//! CPU time and resident memory of a process (the server under test, or the load generator itself), from
//! /proc (Linux).

/// Clock ticks per second of /proc/<pid>/stat times: USER_HZ, 100 on every Linux architecture we run on.
const TICKS_PER_SECOND: u64 = 100;

#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTime {
    pub user_ms: u64,
    pub system_ms: u64,
}

impl CpuTime {
    pub fn since(self, earlier: Self) -> Self {
        Self {
            user_ms: self.user_ms.saturating_sub(earlier.user_ms),
            system_ms: self.system_ms.saturating_sub(earlier.system_ms),
        }
    }

    pub fn total_ms(self) -> u64 {
        self.user_ms + self.system_ms
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ServerProcess {
    pid: u32,
}

impl ServerProcess {
    pub fn new(pid: u32) -> Self {
        Self { pid }
    }

    /// User and system (kernel) CPU time so far, in milliseconds.
    pub fn cpu_ms(&self) -> Option<CpuTime> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        // The command name (field 2) may contain spaces; fields after its closing parenthesis are plain.
        let after_name = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = after_name.split(' ').collect();
        // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
        let ms = |field: &str| {
            field
                .parse::<u64>()
                .ok()
                .map(|ticks| ticks * 1000 / TICKS_PER_SECOND)
        };
        Some(CpuTime {
            user_ms: ms(fields.get(11)?)?,
            system_ms: ms(fields.get(12)?)?,
        })
    }

    /// Resident set size, in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }
}
