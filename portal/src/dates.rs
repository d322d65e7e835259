//! Times as people read them: in the deployment's time zone (`server.time_zone`), in the
//! usual form of the page's language: `27-11-2026 09:05` in Spanish (as Chile writes dates),
//! `27 Nov 2026, 09:05` in English.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::i18n::Lang;

/// The zone named `name`, or UTC if the name is unknown (the configuration check refuses
/// such a name before the server starts).
fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or(TimeZone::UTC)
}

fn format(zone_name: &str, unix: i64, pattern: &str) -> String {
    match Timestamp::from_second(unix) {
        Ok(at) => at.to_zoned(zone(zone_name)).strftime(pattern).to_string(),
        Err(_) => String::new(),
    }
}

/// A date and time of day.
pub fn date_time(lang: Lang, zone_name: &str, unix: i64) -> String {
    match lang {
        Lang::Es => format(zone_name, unix, "%d-%m-%Y %H:%M"),
        Lang::En => format(zone_name, unix, "%-d %b %Y, %H:%M"),
    }
}

/// A date.
pub fn date(lang: Lang, zone_name: &str, unix: i64) -> String {
    match lang {
        Lang::Es => format(zone_name, unix, "%d-%m-%Y"),
        Lang::En => format(zone_name, unix, "%-d %b %Y"),
    }
}

/// A time of day, for "until" lines within the hour.
pub fn time_of_day(zone_name: &str, unix: i64) -> String {
    format(zone_name, unix, "%H:%M")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-15 12:30 UTC: summer in Chile (UTC−3).
    const SUMMER: i64 = 1_768_480_200;
    /// 2026-07-15 12:30 UTC: winter in Chile (UTC−4).
    const WINTER: i64 = 1_784_118_600;

    #[test]
    fn times_are_shown_in_the_zone_and_the_languages_form() {
        assert_eq!(
            date_time(Lang::Es, "America/Santiago", SUMMER),
            "15-01-2026 09:30"
        );
        assert_eq!(
            date_time(Lang::Es, "America/Santiago", WINTER),
            "15-07-2026 08:30"
        );
        assert_eq!(
            date_time(Lang::En, "America/Santiago", SUMMER),
            "15 Jan 2026, 09:30"
        );
        assert_eq!(date(Lang::Es, "UTC", SUMMER), "15-01-2026");
        assert_eq!(time_of_day("UTC", SUMMER), "12:30");
        assert_eq!(date_time(Lang::Es, "Not/AZone", SUMMER), "15-01-2026 12:30");
    }
}
