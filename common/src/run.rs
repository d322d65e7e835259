//! The RUN (Rol Único Nacional), Chile's national number: parsing, validation and formatting.
//!
//! A RUN is a number (the body) followed by a check digit computed with modulo 11, written
//! `12.345.678-5`. People type it in many ways, so [`Run::parse`] accepts the dotted form, the
//! hyphenated form without dots and the bare digits, in either case for the check digit `K`,
//! and says precisely what is wrong with anything else. Once parsed, a [`Run`] is always valid.
//! It is stored in the database in its compact form (`12345678-5`) and shown in its canonical
//! form (`12.345.678-5`).

use std::fmt;
use std::str::FromStr;

/// The largest body a RUN can have: eight digits.
const MAX_NUMBER: u32 = 99_999_999;

/// A valid RUN. The check digit is not stored because it follows from the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Run {
    number: u32,
}

/// Why a text is not a valid RUN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// Nothing (or only whitespace) was given.
    #[error("the RUN is empty")]
    Empty,
    /// A character that never appears in a RUN.
    #[error("the RUN contains {ch:?}, which is not a digit, a dot, a hyphen or K")]
    InvalidCharacter {
        /// The first offending character.
        ch: char,
    },
    /// `K` appears somewhere other than the check digit.
    #[error("K can only be the check digit, after the hyphen")]
    MisplacedK,
    /// More than one hyphen, or a hyphen anywhere but right before the check digit.
    #[error("the hyphen must come right before the check digit, e.g. 12345678-5")]
    MisplacedHyphen,
    /// Dots that do not separate the number into groups of three, or dots without a hyphen.
    #[error("dots must split the number into groups of three digits, e.g. 12.345.678-5")]
    MisplacedDot,
    /// There is no number before the check digit.
    #[error("the RUN has no number before its check digit")]
    TooShort,
    /// The number has more than eight digits.
    #[error("the RUN's number has more than eight digits")]
    TooLong,
    /// The number starts with a zero (or is zero).
    #[error("the RUN's number cannot start with 0")]
    LeadingZero,
    /// The check digit does not match the number.
    #[error("the check digit does not match the number (expected {expected})")]
    WrongCheckDigit {
        /// The check digit the number calls for.
        expected: char,
    },
}

impl RunError {
    /// The same reason in Spanish, for citizens' pages (never names the expected check digit).
    pub fn message_es(&self) -> &'static str {
        match self {
            Self::Empty => "Ingresa tu RUN.",
            Self::InvalidCharacter { .. } => {
                "El RUN solo puede tener dígitos, puntos, un guion y la letra K."
            }
            Self::MisplacedK => "La K solo puede ser el dígito verificador, después del guion.",
            Self::MisplacedHyphen => {
                "El guion va justo antes del dígito verificador, por ejemplo 12345678-5."
            }
            Self::MisplacedDot => {
                "Los puntos separan el número en grupos de tres dígitos, por ejemplo 12.345.678-5."
            }
            Self::TooShort => "Falta el número antes del dígito verificador.",
            Self::TooLong => "El número del RUN tiene más de ocho dígitos.",
            Self::LeadingZero => "El número del RUN no puede empezar con 0.",
            Self::WrongCheckDigit { .. } => "El dígito verificador no corresponde al RUN.",
        }
    }
}

impl Run {
    /// Parses a RUN as people write it: `12.345.678-5`, `12345678-5` or `123456785`, with
    /// surrounding whitespace and either case of `K`.
    pub fn parse(text: &str) -> Result<Self, RunError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(RunError::Empty);
        }
        if let Some(ch) = text
            .chars()
            .find(|c| !(c.is_ascii_digit() || matches!(c, '.' | '-' | 'k' | 'K')))
        {
            return Err(RunError::InvalidCharacter { ch });
        }
        // From here on every character is ASCII, so byte positions are character positions.
        let bytes = text.as_bytes();
        let hyphens = bytes.iter().filter(|&&b| b == b'-').count();
        let has_hyphen = match hyphens {
            0 => false,
            1 if bytes.len() >= 2 && bytes[bytes.len() - 2] == b'-' => true,
            _ => return Err(RunError::MisplacedHyphen),
        };
        let Some((&dv, rest)) = bytes.split_last() else {
            return Err(RunError::Empty);
        };
        if dv == b'.' {
            return Err(RunError::MisplacedDot);
        }
        let body = if has_hyphen {
            &rest[..rest.len() - 1]
        } else {
            rest
        };
        if body.iter().any(|b| b.eq_ignore_ascii_case(&b'k')) {
            return Err(RunError::MisplacedK);
        }
        if body.contains(&b'.') {
            // Without the hyphen, "12.345.6785" would be ambiguous about where the body ends.
            if !has_hyphen || !dots_group_in_threes(body) {
                return Err(RunError::MisplacedDot);
            }
        }
        let digits: Vec<u8> = body.iter().copied().filter(|&b| b != b'.').collect();
        if digits.is_empty() {
            return Err(RunError::TooShort);
        }
        if digits.len() > 8 {
            return Err(RunError::TooLong);
        }
        if digits[0] == b'0' {
            return Err(RunError::LeadingZero);
        }
        let number = digits
            .iter()
            .fold(0_u32, |n, d| n * 10 + u32::from(d - b'0'));
        Self::from_parts(number, char::from(dv))
    }

    /// A RUN from its number and check digit (`k` or `K` for ten), checking both.
    pub fn from_parts(number: u32, check_digit: char) -> Result<Self, RunError> {
        let run = Self::from_number(number)?;
        let given = check_digit.to_ascii_uppercase();
        if !(given.is_ascii_digit() || given == 'K') {
            return Err(RunError::InvalidCharacter { ch: check_digit });
        }
        let expected = run.check_digit();
        if given != expected {
            return Err(RunError::WrongCheckDigit { expected });
        }
        Ok(run)
    }

    /// The RUN with this number and its computed check digit; for fixtures and imports that
    /// carry the number alone.
    pub fn from_number(number: u32) -> Result<Self, RunError> {
        match number {
            0 => Err(RunError::TooShort),
            n if n > MAX_NUMBER => Err(RunError::TooLong),
            number => Ok(Self { number }),
        }
    }

    /// The check digit that goes with `number`: modulo 11 with weights 2 to 7 cycling from the
    /// rightmost digit; 11 gives `0` and 10 gives `K`.
    pub fn check_digit_for(number: u32) -> char {
        let mut rest = number;
        let mut sum = 0_u32;
        let mut weight = 2_u32;
        while rest > 0 {
            sum += (rest % 10) * weight;
            rest /= 10;
            weight = if weight == 7 { 2 } else { weight + 1 };
        }
        match 11 - sum % 11 {
            11 => '0',
            10 => 'K',
            d => char::from_digit(d, 10).unwrap_or('0'),
        }
    }

    /// The number without its check digit.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// The check digit: `0`–`9` or an uppercase `K`.
    pub fn check_digit(&self) -> char {
        Self::check_digit_for(self.number)
    }

    /// The form shown to people: `12.345.678-5`.
    pub fn canonical(&self) -> String {
        let digits = self.number.to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 2);
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push('.');
            }
            out.push(ch);
        }
        out.push('-');
        out.push(self.check_digit());
        out
    }

    /// The form stored in the database: `12345678-5`.
    pub fn compact(&self) -> String {
        format!("{}-{}", self.number, self.check_digit())
    }
}

/// Whether dotted digits are split from the right into groups of exactly three, the leftmost
/// group holding one to three digits.
fn dots_group_in_threes(body: &[u8]) -> bool {
    let mut groups = body.split(|&b| b == b'.');
    let first_ok = groups
        .next()
        .is_some_and(|first| (1..=3).contains(&first.len()));
    first_ok && groups.all(|group| group.len() == 3)
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

impl FromStr for Run {
    type Err = RunError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl serde::Serialize for Run {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.canonical())
    }
}

impl<'de> serde::Deserialize<'de> for Run {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RunVisitor;

        impl serde::de::Visitor<'_> for RunVisitor {
            type Value = Run;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a RUN such as \"12.345.678-5\"")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Run, E> {
                Run::parse(text).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(RunVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(text: &str) -> Run {
        Run::parse(text).unwrap()
    }

    #[test]
    fn accepts_every_usual_spelling() {
        let expected = Run::from_parts(12_345_678, '5').unwrap();
        for text in [
            "12.345.678-5",
            "12345678-5",
            "123456785",
            "  12.345.678-5\n",
            "\t12345678-5 ",
        ] {
            assert_eq!(Run::parse(text), Ok(expected), "{text:?}");
        }
    }

    #[test]
    fn check_digits_follow_modulo_eleven() {
        assert_eq!(Run::check_digit_for(12_345_678), '5');
        // 11 - 0 = 11 maps to '0'; 11 - 1 = 10 maps to 'K'.
        assert_eq!(Run::check_digit_for(11_111_111), '1');
        assert_eq!(Run::check_digit_for(10_000_004), '0');
        assert_eq!(Run::check_digit_for(10_000_013), 'K');
        assert_eq!(Run::check_digit_for(1), '9');
        assert_eq!(Run::check_digit_for(6), 'K');
        assert_eq!(Run::check_digit_for(7), '8');
        assert_eq!(Run::check_digit_for(99_999_999), '9');
    }

    #[test]
    fn k_is_accepted_in_either_case_and_shown_uppercase() {
        for text in ["10.000.013-K", "10.000.013-k", "10000013-k", "10000013K"] {
            let parsed = run(text);
            assert_eq!(parsed.check_digit(), 'K');
            assert_eq!(parsed.canonical(), "10.000.013-K");
        }
        assert_eq!(
            Run::from_parts(10_000_013, 'k').map(|r| r.number()),
            Ok(10_000_013)
        );
    }

    #[test]
    fn formats_canonical_and_compact() {
        let r = run("123456785");
        assert_eq!(r.canonical(), "12.345.678-5");
        assert_eq!(r.compact(), "12345678-5");
        assert_eq!(r.to_string(), "12.345.678-5");
        assert_eq!(r.number(), 12_345_678);
        assert_eq!(r.check_digit(), '5');
        assert_eq!(Run::from_number(1).unwrap().canonical(), "1-9");
        assert_eq!(Run::from_number(123).unwrap().canonical(), "123-6");
        assert_eq!(Run::from_number(1_234).unwrap().canonical(), "1.234-3");
        assert_eq!(Run::from_number(999_999).unwrap().canonical(), "999.999-K");
        assert_eq!(
            Run::from_number(1_000_000).unwrap().canonical(),
            "1.000.000-9"
        );
    }

    #[test]
    fn short_numbers_parse_in_every_form() {
        assert_eq!(run("1-9").number(), 1);
        assert_eq!(run("19").number(), 1);
        assert_eq!(run("1.234-3").number(), 1_234);
        assert_eq!(run("999.999-K").number(), 999_999);
    }

    #[test]
    fn rejects_with_a_reason() {
        let cases: &[(&str, RunError)] = &[
            ("", RunError::Empty),
            ("   ", RunError::Empty),
            ("12.345.678/5", RunError::InvalidCharacter { ch: '/' }),
            ("12 345 678-5", RunError::InvalidCharacter { ch: ' ' }),
            ("１2345678-5", RunError::InvalidCharacter { ch: '１' }),
            ("12.345.678-X", RunError::InvalidCharacter { ch: 'X' }),
            ("1234K678-5", RunError::MisplacedK),
            ("K-5", RunError::MisplacedK),
            ("12-345678-5", RunError::MisplacedHyphen),
            ("1234567-85", RunError::MisplacedHyphen),
            ("12345678-", RunError::MisplacedHyphen),
            ("12345678--5", RunError::MisplacedHyphen),
            ("-", RunError::MisplacedHyphen),
            ("12.345678-5", RunError::MisplacedDot),
            ("12345.678-5", RunError::MisplacedDot),
            ("1234.567.8-5", RunError::MisplacedDot),
            (".12.345.678-5", RunError::MisplacedDot),
            ("12..345.678-5", RunError::MisplacedDot),
            ("12.345.678.-5", RunError::MisplacedDot),
            ("12.345.6785", RunError::MisplacedDot),
            ("12345678.", RunError::MisplacedDot),
            ("5", RunError::TooShort),
            ("-5", RunError::TooShort),
            ("123.456.789-2", RunError::TooLong),
            ("1234567890", RunError::TooLong),
            ("012345678-5", RunError::TooLong),
            ("01234567-5", RunError::LeadingZero),
            ("0-0", RunError::LeadingZero),
            ("00", RunError::LeadingZero),
            ("12.345.678-6", RunError::WrongCheckDigit { expected: '5' }),
            ("10.000.013-0", RunError::WrongCheckDigit { expected: 'K' }),
            ("10.000.004-K", RunError::WrongCheckDigit { expected: '0' }),
            ("12345678k", RunError::WrongCheckDigit { expected: '5' }),
        ];
        for (text, expected) in cases {
            assert_eq!(Run::parse(text), Err(*expected), "{text:?}");
        }
    }

    #[test]
    fn from_parts_checks_range_and_digit() {
        assert_eq!(Run::from_parts(0, '0'), Err(RunError::TooShort));
        assert_eq!(Run::from_parts(100_000_000, '0'), Err(RunError::TooLong));
        assert_eq!(
            Run::from_parts(12_345_678, 'x'),
            Err(RunError::InvalidCharacter { ch: 'x' })
        );
        assert_eq!(
            Run::from_parts(12_345_678, '4'),
            Err(RunError::WrongCheckDigit { expected: '5' })
        );
        assert!(Run::from_parts(99_999_999, '9').is_ok());
    }

    #[test]
    fn every_error_has_english_and_spanish_messages() {
        let all = [
            RunError::Empty,
            RunError::InvalidCharacter { ch: '/' },
            RunError::MisplacedK,
            RunError::MisplacedHyphen,
            RunError::MisplacedDot,
            RunError::TooShort,
            RunError::TooLong,
            RunError::LeadingZero,
            RunError::WrongCheckDigit { expected: 'K' },
        ];
        for err in all {
            assert!(!err.to_string().is_empty());
            assert!(!err.message_es().is_empty());
        }
        // Citizens are not told the digit their number calls for.
        assert!(
            !RunError::WrongCheckDigit { expected: 'K' }
                .message_es()
                .contains('K')
        );
        assert!(
            RunError::InvalidCharacter { ch: '/' }
                .to_string()
                .contains("'/'")
        );
    }

    #[test]
    fn serde_uses_the_canonical_string_and_validates() {
        let r = run("12345678-5");
        assert_eq!(serde_json::to_string(&r).unwrap(), "\"12.345.678-5\"");
        let back: Run = serde_json::from_str("\"12345678-5\"").unwrap();
        assert_eq!(back, r);
        let err = serde_json::from_str::<Run>("\"12.345.678-6\"").unwrap_err();
        assert!(err.to_string().contains("check digit"), "{err}");
        assert!(serde_json::from_str::<Run>("12345678").is_err());
    }

    #[test]
    fn orders_by_number() {
        let mut runs = [run("12.345.678-5"), run("1-9"), run("10.000.013-K")];
        runs.sort();
        let numbers: Vec<u32> = runs.iter().map(Run::number).collect();
        assert_eq!(numbers, [1, 10_000_013, 12_345_678]);
    }

    fn dotted(number: u32) -> String {
        Run::from_number(number).unwrap().canonical()
    }

    proptest! {
        #[test]
        fn every_valid_run_round_trips(number in 1_u32..=MAX_NUMBER, lower in any::<bool>()) {
            let dv = Run::check_digit_for(number);
            let dv = if lower { dv.to_ascii_lowercase() } else { dv };
            let expected = Run::from_parts(number, dv).unwrap();
            for text in [
                dotted(number).replace('K', &dv.to_string()),
                format!("{number}-{dv}"),
                format!("{number}{dv}"),
                format!("  {number}-{dv}\t"),
            ] {
                prop_assert_eq!(Run::parse(&text), Ok(expected), "{:?}", text);
            }
            prop_assert_eq!(Run::parse(&expected.canonical()), Ok(expected));
            prop_assert_eq!(Run::parse(&expected.compact()), Ok(expected));
            prop_assert_eq!(expected.canonical().parse::<Run>(), Ok(expected));
        }

        #[test]
        fn a_wrong_check_digit_is_always_rejected(
            number in 1_u32..=MAX_NUMBER,
            dv in prop::sample::select(vec!['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'K']),
        ) {
            let right = Run::check_digit_for(number);
            prop_assume!(dv != right);
            let expected = Err(RunError::WrongCheckDigit { expected: right });
            prop_assert_eq!(Run::parse(&format!("{number}-{dv}")), expected);
            prop_assert_eq!(Run::parse(&format!("{number}{dv}")), expected);
            prop_assert_eq!(Run::from_parts(number, dv), expected);
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,24}") {
            if let Ok(parsed) = Run::parse(&text) {
                prop_assert_eq!(Run::parse(&parsed.canonical()), Ok(parsed));
            }
        }

        #[test]
        fn run_like_text_never_panics(text in "[0-9kK.\\- ]{0,16}") {
            if let Ok(parsed) = Run::parse(&text) {
                prop_assert_eq!(Run::parse(&parsed.compact()), Ok(parsed));
            }
        }
    }
}
