//! Calendar dates on the command line, as milliseconds since the Unix epoch (UTC).

/// `YYYY-MM-DD` to the first millisecond of that day, UTC.
pub fn parse_date_ms(text: &str) -> Result<i64, String> {
    let invalid = || format!("'{text}' is not a date: use YYYY-MM-DD, e.g. 2024-03-31");
    let mut parts = text.trim().splitn(3, '-');
    let mut field = |digits: usize| -> Result<i64, String> {
        let part = parts.next().filter(|p| p.len() == digits && p.bytes().all(|b| b.is_ascii_digit()));
        part.and_then(|p| p.parse().ok()).ok_or_else(invalid)
    };
    let (year, month, day) = (field(4)?, field(2)?, field(2)?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&month) || day < 1 || day > month_days[(month - 1) as usize] {
        return Err(invalid());
    }
    Ok(days_from_civil(year, month, day) * 86_400_000)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_become_epoch_milliseconds() {
        assert_eq!(parse_date_ms("1970-01-01"), Ok(0));
        assert_eq!(parse_date_ms("2000-03-01"), Ok(951_868_800_000));
        assert_eq!(parse_date_ms("2024-02-29"), Ok(1_709_164_800_000));
        for bad in ["2023-02-29", "2024-13-01", "24-01-01", "2024-1-1", "yesterday", ""] {
            assert!(parse_date_ms(bad).is_err(), "{bad}");
        }
    }
}
