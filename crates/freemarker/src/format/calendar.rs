//! Calendar arithmetic behind date formatting: days since the epoch to year/month/day in the
//! proleptic Gregorian calendar (ISO formats) and in Java's `GregorianCalendar`, which switches to
//! the Julian calendar before 1582-10-15, plus Java's week-of-year rules.

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of 1582-10-15, the first Gregorian day of `java.util.GregorianCalendar`.
pub const GREGORIAN_CUTOVER_DAYS: i64 = -141_427;

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1..=12, any day).
pub fn days_from_gregorian(y: i64, m: u32, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468 + (d - 1)
}

/// Proleptic Gregorian (year, month, day) of days since 1970-01-01.
pub fn gregorian_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

/// Days since 1970-01-01 of a Julian calendar date (astronomical year numbering).
pub fn days_from_julian(y: i64, m: u32, d: i64) -> i64 {
    let a = (14 - m as i64) / 12;
    let yy = y + 4800 - a;
    let mm = m as i64 + 12 * a - 3;
    let jdn = d + (153 * mm + 2) / 5 + 365 * yy + yy.div_euclid(4) - 32_083;
    jdn - 2_440_588
}

/// Julian calendar (year, month, day) of days since 1970-01-01 (astronomical year numbering).
pub fn julian_from_days(days: i64) -> (i64, u32, u32) {
    let jdn = days + 2_440_588;
    let c = jdn + 32_082;
    let d = (4 * c + 3).div_euclid(1461);
    let e = c - (1461 * d).div_euclid(4);
    let m = (5 * e + 2) / 153;
    let day = (e - (153 * m + 2) / 5 + 1) as u32;
    let month = (m + 3 - 12 * (m / 10)) as u32;
    let year = d - 4800 + m / 10;
    (year, month, day)
}

/// Day of week, 1 = Sunday .. 7 = Saturday (`Calendar.DAY_OF_WEEK`).
pub fn weekday(days: i64) -> u32 {
    // 1970-01-01 was a Thursday (5)
    ((days + 4).rem_euclid(7) + 1) as u32
}

/// The calendar fields Java's `GregorianCalendar` computes for a local day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JavaDate {
    /// 1 = AD, 0 = BC.
    pub era: u32,
    /// Year of era (1, 2, ...).
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub day_of_year: u32,
    pub weekday: u32,
}

/// Whether `days` falls on or after the Gregorian cutover (Java switches calendars there).
fn is_gregorian(days: i64) -> bool {
    days >= GREGORIAN_CUTOVER_DAYS
}

/// Java's calendar date of a local day.
pub fn java_date(days: i64) -> JavaDate {
    let (y, m, d) = if is_gregorian(days) {
        gregorian_from_days(days)
    } else {
        julian_from_days(days)
    };
    let jan1 = java_days_from_civil(y, 1, 1);
    let (era, year) = if y >= 1 { (1, y) } else { (0, 1 - y) };
    JavaDate {
        era,
        year,
        month: m,
        day: d,
        day_of_year: (days - jan1 + 1) as u32,
        weekday: weekday(days),
    }
}

/// Days since the epoch of a (lenient) Java calendar date: Gregorian on or after the cutover,
/// Julian before. Months outside 1..=12 and days outside the month roll over.
pub fn java_days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = y + (m - 1).div_euclid(12);
    let m = ((m - 1).rem_euclid(12) + 1) as u32;
    let g = days_from_gregorian(y, m, 1) + (d - 1);
    if is_gregorian(g) {
        g
    } else {
        days_from_julian(y, m, 1) + (d - 1)
    }
}

/// The day on or before `days` that is weekday `dow` (1 = Sunday).
fn on_or_before(days: i64, dow: u32) -> i64 {
    days - ((weekday(days) as i64 - dow as i64).rem_euclid(7))
}

/// Java's `getWeekNumber`: the week of `date` in the period starting on day `day1`.
fn week_number(day1: i64, date: i64, first_dow: u32, min_days: u32) -> i64 {
    let mut first = on_or_before(day1 + 6, first_dow);
    if first - day1 >= min_days as i64 {
        first -= 7;
    }
    (date - first).div_euclid(7) + 1
}

/// Week fields of a local day with a locale's first day of week (1 = Sunday) and minimal days
/// in the first week: (week of year, week of month, week year).
pub fn week_fields(days: i64, first_dow: u32, min_days: u32) -> (i64, i64, i64) {
    let jd = java_date(days);
    let astro_year = if jd.era == 1 { jd.year } else { 1 - jd.year };
    let jan1 = java_days_from_civil(astro_year, 1, 1);
    let mut woy = week_number(jan1, days, first_dow, min_days);
    let mut week_year = astro_year;
    if woy == 0 {
        let prev_jan1 = java_days_from_civil(astro_year - 1, 1, 1);
        woy = week_number(prev_jan1, days, first_dow, min_days);
        week_year -= 1;
    } else if woy >= 52 {
        let next_jan1 = java_days_from_civil(astro_year + 1, 1, 1);
        let mut next_first = on_or_before(next_jan1 + 6, first_dow);
        if next_first - next_jan1 >= min_days as i64 {
            next_first -= 7;
        }
        if days >= next_first {
            woy = 1;
            week_year += 1;
        }
    }
    let month1 = days - (jd.day as i64 - 1);
    let wom = week_number(month1, days, first_dow, min_days);
    (woy, wom, week_year)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gregorian_round_trip() {
        for days in [-800_000i64, -141_427, -1, 0, 1, 19_023, 2_932_896] {
            let (y, m, d) = gregorian_from_days(days);
            assert_eq!(days_from_gregorian(y, m, d as i64), days);
        }
        assert_eq!(gregorian_from_days(19_023), (2022, 1, 31));
    }

    #[test]
    fn julian_round_trip_and_cutover() {
        for days in [-800_000i64, -141_428, -719_164] {
            let (y, m, d) = julian_from_days(days);
            assert_eq!(days_from_julian(y, m, d as i64), days, "{days}");
        }
        // the day before 1582-10-15 (Gregorian) is 1582-10-04 (Julian)
        assert_eq!(julian_from_days(GREGORIAN_CUTOVER_DAYS - 1), (1582, 10, 4));
        // oracle: -62135769600000 ms prints "AD 0001 January 01 Saturday" with SimpleDateFormat
        let jd = java_date(-62_135_769_600_000 / DAY_MS);
        assert_eq!(
            (jd.era, jd.year, jd.month, jd.day, jd.weekday),
            (1, 1, 1, 1, 7)
        );
    }

    #[test]
    fn week_fields_follow_locale_rules() {
        // oracle: 2021-01-01 "w W F u Y": en_US -> 1 1 1 5 2021; en_GB/de_DE -> 53 0 1 5 2020
        let d = days_from_gregorian(2021, 1, 1);
        assert_eq!(week_fields(d, 1, 1), (1, 1, 2021));
        assert_eq!(week_fields(d, 2, 4), (53, 0, 2020));
        // oracle: 2022-01-31 en_US -> w=6 W=6; de_DE -> 5 5
        let d = days_from_gregorian(2022, 1, 31);
        assert_eq!(week_fields(d, 1, 1), (6, 6, 2022));
        assert_eq!(week_fields(d, 2, 4), (5, 5, 2022));
    }
}
