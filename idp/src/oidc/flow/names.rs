//! Splitting a citizen's names the way ClaveÚnica reports them: given names one by one, and
//! family names as the paternal and maternal surname, each of which may span several words.
//!
//! Spanish surnames often carry particles that belong to them ("Del Río", "De la Fuente",
//! "De los Santos") and some are joined with "y" ("Ortega y Gasset"); splitting on spaces
//! would turn "Del Río González" into three surnames instead of two.

/// Words that open a surname and bind to the word after them.
const PARTICLES: &[&str] = &[
    "da", "das", "de", "del", "della", "der", "di", "do", "dos", "du", "la", "las", "le", "lo",
    "los", "san", "santa", "van", "von", "zu",
];

/// Words that join two parts into one compound surname ("Ortega y Gasset").
const JOINERS: &[&str] = &["y", "e", "i"];

fn is_particle(word: &str) -> bool {
    let lower = word.to_lowercase();
    PARTICLES.contains(&lower.as_str())
}

fn is_joiner(word: &str) -> bool {
    let lower = word.to_lowercase();
    JOINERS.contains(&lower.as_str())
}

/// Given names, one per word: "María Carmen" → ["María", "Carmen"].
pub fn split_given_names(given_names: &str) -> Vec<String> {
    given_names.split_whitespace().map(str::to_owned).collect()
}

/// Family names as whole surnames: "Del Río González" → ["Del Río", "González"].
///
/// Particles stay with the word they precede, "y" joins its neighbours into one surname, and
/// a trailing particle with nothing after it stays with the surname before it.
pub fn split_family_names(family_names: &str) -> Vec<String> {
    let words: Vec<&str> = family_names.split_whitespace().collect();
    let mut surnames: Vec<Vec<&str>> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut joining = false;
    for (i, word) in words.iter().copied().enumerate() {
        let has_next = i + 1 < words.len();
        if is_joiner(word) && has_next && (!current.is_empty() || !surnames.is_empty()) {
            // "Ortega y Gasset": reopen the surname just closed and keep adding to it.
            if current.is_empty()
                && let Some(previous) = surnames.pop()
            {
                current = previous;
            }
            current.push(word);
            joining = true;
            continue;
        }
        current.push(word);
        if is_particle(word) {
            continue;
        }
        // A word that is not a particle closes the surname, unless a joiner asked for it.
        joining = false;
        surnames.push(std::mem::take(&mut current));
    }
    if !current.is_empty() {
        match surnames.last_mut() {
            Some(last) if !joining => last.extend(current),
            _ => surnames.push(current),
        }
    }
    surnames.into_iter().map(|words| words.join(" ")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family(text: &str) -> Vec<String> {
        split_family_names(text)
    }

    #[test]
    fn particles_stay_with_their_surname() {
        assert_eq!(family("Del Río González"), ["Del Río", "González"]);
        assert_eq!(family("González del Río"), ["González", "del Río"]);
        assert_eq!(family("De la Fuente Pérez"), ["De la Fuente", "Pérez"]);
        assert_eq!(family("Pérez de los Santos"), ["Pérez", "de los Santos"]);
        assert_eq!(family("van der Berg Soto"), ["van der Berg", "Soto"]);
        assert_eq!(family("San Martín Lagos"), ["San Martín", "Lagos"]);
    }

    #[test]
    fn plain_surnames_split_on_spaces() {
        assert_eq!(family("Soto Lagos"), ["Soto", "Lagos"]);
        assert_eq!(family("Soto"), ["Soto"]);
        assert_eq!(family("  Soto   Lagos "), ["Soto", "Lagos"]);
        assert!(family("").is_empty());
        assert_eq!(family("Pérez-Cotapos Soto"), ["Pérez-Cotapos", "Soto"]);
    }

    #[test]
    fn joined_surnames_are_one() {
        assert_eq!(family("Ortega y Gasset Soto"), ["Ortega y Gasset", "Soto"]);
        assert_eq!(family("Soto Ortega y Gasset"), ["Soto", "Ortega y Gasset"]);
    }

    #[test]
    fn odd_input_never_loses_words() {
        assert_eq!(family("Soto de"), ["Soto de"]);
        assert_eq!(family("de"), ["de"]);
        assert_eq!(family("y"), ["y"]);
        assert_eq!(family("Soto y"), ["Soto", "y"]);
        for text in ["De La", "y de la", "la la la Soto", "Soto y y Lagos"] {
            let joined = family(text).join(" ");
            assert_eq!(
                joined,
                text.split_whitespace().collect::<Vec<_>>().join(" ")
            );
        }
    }

    #[test]
    fn given_names_split_on_spaces() {
        assert_eq!(split_given_names("María Carmen"), ["María", "Carmen"]);
        assert_eq!(split_given_names(" José  "), ["José"]);
    }
}
