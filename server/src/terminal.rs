//! Formatting for people at a terminal.

use std::process::ExitCode;

/// Prints an error with its chain of causes and returns the failure exit code.
pub fn fail(error: &anyhow::Error) -> ExitCode {
    print_error(error);
    ExitCode::FAILURE
}

/// Prints an error with its chain of causes (for errors a command survives).
pub fn print_error(error: &anyhow::Error) {
    eprintln!("error: {error}");
    for cause in error.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}

/// ANSI escapes for bold, dim and reset, or empty strings when output is not styled.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub bold: &'static str,
    pub dim: &'static str,
    pub reset: &'static str,
}

impl Style {
    pub fn new(styled: bool) -> Self {
        if styled {
            Self { bold: "\x1b[1m", dim: "\x1b[2m", reset: "\x1b[0m" }
        } else {
            Self { bold: "", dim: "", reset: "" }
        }
    }
}

/// 12345 -> "12,345".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate per second, or "-" when nothing was measured.
pub fn rate(count: u64, seconds: f64) -> String {
    if seconds <= 0.0 || count == 0 {
        return "-".into();
    }
    format!("{:.1}", count as f64 / seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(rate(10, 2.0), "5.0");
        assert_eq!(rate(0, 2.0), "-");
    }
}
