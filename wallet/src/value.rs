//! Attribute types and the checks a value must pass before it is stored: a value is always
//! stored in one canonical JSON shape per type, so every reader can rely on it.

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// The type of an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text (one line or several), up to [`MAX_TEXT`] characters.
    Text,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// A finite number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A postal address: an object with the OpenID Connect address fields.
    Address,
    /// One code of a fixed list.
    Code,
}

/// The longest text value, in characters.
pub const MAX_TEXT: usize = 1000;
/// The longest address field, in characters.
const MAX_ADDRESS_FIELD: usize = 200;
/// The fields of an address (OpenID Connect Core §5.1.1, without `formatted`).
pub const ADDRESS_FIELDS: &[&str] = &[
    "street_address",
    "locality",
    "region",
    "postal_code",
    "country",
];

impl Kind {
    /// The catalogue's name for the type.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Date => "date",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Address => "address",
            Self::Code => "code",
        }
    }

    /// Reads a type name.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "text" => Self::Text,
            "date" => Self::Date,
            "number" => Self::Number,
            "boolean" => Self::Boolean,
            "address" => Self::Address,
            "code" => Self::Code,
            _ => return None,
        })
    }

    /// Every type, for messages.
    pub const ALL: [Kind; 6] = [
        Self::Text,
        Self::Date,
        Self::Number,
        Self::Boolean,
        Self::Address,
        Self::Code,
    ];
}

/// Checks `value` against `kind` (and `codes`, for a code list) and returns it in canonical
/// form; the error says what a valid value looks like.
pub fn check(kind: Kind, codes: &[String], value: &Value) -> Result<Value, String> {
    match kind {
        Kind::Text => {
            let text = value
                .as_str()
                .ok_or("the value must be a JSON string")?
                .trim();
            if text.is_empty() {
                return Err("the value is empty".into());
            }
            if text.chars().count() > MAX_TEXT {
                return Err(format!("the value is longer than {MAX_TEXT} characters"));
            }
            if text
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t')
            {
                return Err("the value contains control characters".into());
            }
            Ok(Value::String(text.to_owned()))
        }
        Kind::Date => {
            let text = value
                .as_str()
                .ok_or("the value must be a date string such as \"1990-04-23\"")?;
            parse_date(text)
                .map(|_| Value::String(text.to_owned()))
                .ok_or_else(|| format!("{text:?} is not a date such as \"1990-04-23\""))
        }
        Kind::Number => match value.as_f64() {
            Some(n) if n.is_finite() => Ok(value.clone()),
            _ => Err("the value must be a JSON number".into()),
        },
        Kind::Boolean => value
            .as_bool()
            .map(Value::Bool)
            .ok_or_else(|| "the value must be true or false".into()),
        Kind::Address => check_address(value),
        Kind::Code => {
            let code = value.as_str().ok_or("the value must be a code string")?;
            if codes.iter().any(|c| c == code) {
                Ok(Value::String(code.to_owned()))
            } else {
                Err(format!(
                    "{code:?} is not one of the codes: {}",
                    codes.join(", ")
                ))
            }
        }
    }
}

fn check_address(value: &Value) -> Result<Value, String> {
    let object = value.as_object().ok_or_else(|| {
        format!(
            "the value must be an object with the fields {}",
            ADDRESS_FIELDS.join(", ")
        )
    })?;
    let mut clean = Map::new();
    for (key, field) in object {
        if !ADDRESS_FIELDS.contains(&key.as_str()) {
            return Err(format!(
                "unknown address field {key:?}; the fields are {}",
                ADDRESS_FIELDS.join(", ")
            ));
        }
        let text = field
            .as_str()
            .ok_or_else(|| format!("the address field {key:?} must be a string"))?
            .trim();
        if text.chars().count() > MAX_ADDRESS_FIELD || text.chars().any(char::is_control) {
            return Err(format!(
                "the address field {key:?} must be one line of at most {MAX_ADDRESS_FIELD} characters"
            ));
        }
        if !text.is_empty() {
            clean.insert(key.clone(), Value::String(text.to_owned()));
        }
    }
    if !clean.contains_key("street_address") && !clean.contains_key("locality") {
        return Err("an address needs at least `street_address` or `locality`".into());
    }
    Ok(Value::Object(clean))
}

/// A `YYYY-MM-DD` date.
pub fn parse_date(text: &str) -> Option<time::Date> {
    time::Date::parse(text, format_description!("[year]-[month]-[day]")).ok()
}

/// A validity bound: a date (`2026-01-31`, the start of that day, UTC) or an RFC 3339 time,
/// as Unix seconds.
pub fn parse_instant(text: &str) -> Result<i64, String> {
    if let Some(date) = parse_date(text) {
        return Ok(date.midnight().assume_utc().unix_timestamp());
    }
    time::OffsetDateTime::parse(text, &Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| {
            format!("{text:?} is not a date (2026-01-31) or a time (2026-01-31T12:00:00Z)")
        })
}

/// Unix seconds as RFC 3339 (UTC).
pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// Whether `email` has the shape of an address (`local@domain.tld`); ownership is proven
/// separately.
pub fn is_email(email: &str) -> bool {
    email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.contains('@') && domain.contains('.')
        })
}

/// Whether `phone` looks like an international number: `+`, then 8 to 15 digits (spaces
/// and dashes allowed between them).
pub fn is_phone(phone: &str) -> bool {
    let Some(rest) = phone.strip_prefix('+') else {
        return false;
    };
    let digits = rest.chars().filter(char::is_ascii_digit).count();
    rest.chars()
        .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
        && (8..=15).contains(&digits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_checked_and_made_canonical() {
        assert_eq!(
            check(Kind::Text, &[], &json!("  Ana ")).unwrap(),
            json!("Ana")
        );
        assert!(check(Kind::Text, &[], &json!("")).is_err());
        assert!(check(Kind::Text, &[], &json!(3)).is_err());
        assert!(check(Kind::Text, &[], &json!("a\u{0}b")).is_err());
        assert_eq!(
            check(Kind::Date, &[], &json!("1990-04-23")).unwrap(),
            json!("1990-04-23")
        );
        assert!(check(Kind::Date, &[], &json!("1990-02-30")).is_err());
        assert!(check(Kind::Date, &[], &json!("23/04/1990")).is_err());
        assert!(check(Kind::Number, &[], &json!(4.5)).is_ok());
        assert!(check(Kind::Number, &[], &json!("4")).is_err());
        assert_eq!(
            check(Kind::Boolean, &[], &json!(true)).unwrap(),
            json!(true)
        );
        assert!(check(Kind::Boolean, &[], &json!("yes")).is_err());
        let codes = vec!["A".to_owned(), "B".to_owned()];
        assert!(check(Kind::Code, &codes, &json!("B")).is_ok());
        let err = check(Kind::Code, &codes, &json!("Z")).unwrap_err();
        assert!(err.contains("A, B"), "{err}");
    }

    #[test]
    fn addresses_keep_known_fields_only() {
        let ok = check(
            Kind::Address,
            &[],
            &json!({"street_address": " Moneda 1 ", "locality": "Santiago", "country": ""}),
        )
        .unwrap();
        assert_eq!(
            ok,
            json!({"street_address": "Moneda 1", "locality": "Santiago"})
        );
        assert!(check(Kind::Address, &[], &json!({"street": "x"})).is_err());
        assert!(check(Kind::Address, &[], &json!({"country": "CL"})).is_err());
        assert!(check(Kind::Address, &[], &json!("Moneda 1")).is_err());
    }

    #[test]
    fn instants_are_dates_or_rfc3339_times() {
        assert_eq!(parse_instant("1970-01-02").unwrap(), 86_400);
        assert_eq!(parse_instant("1970-01-01T00:01:00Z").unwrap(), 60);
        assert!(parse_instant("tomorrow").is_err());
        assert_eq!(rfc3339(60), "1970-01-01T00:01:00Z");
    }

    #[test]
    fn emails_and_phones_have_their_shapes() {
        assert!(is_email("maria@example.cl"));
        assert!(!is_email("maria@example"));
        assert!(!is_email("maria example@x.cl"));
        assert!(is_phone("+56 9 1234 5678"));
        assert!(!is_phone("912345678"));
        assert!(!is_phone("+56 9 ABC"));
    }
}
