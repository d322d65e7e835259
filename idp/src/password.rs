//! Passwords: argon2id hashing on blocking threads, and the password policy.
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), so each one carries the
//! parameters it was made with; [`needs_rehash`] compares them with the configured ones and a
//! successful login upgrades an old hash. Hashing is CPU- and memory-heavy by design, so it
//! runs on tokio's blocking pool and at most `Ctx::hash_slots` hashes run at once.
//!
//! The policy ([`check_policy`]) refuses short passwords, the citizen's own RUN and names, and
//! passwords from a shipped list of the most common ones (`data/common-passwords.txt`).

use std::fmt;

use std::sync::{Arc, Mutex, PoisonError};

use argon2::password_hash::{
    Output, ParamsString, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use clave_common::Run;
use clave_common::config::PasswordConfig;
use rand::RngCore;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::{Ctx, IdpError};

/// The most characters a password may have; far beyond any passphrase, it only bounds input.
pub const MAX_LENGTH: usize = 256;

/// Passwords people choose most often, lowercase, one per line.
const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl HashParams {
    /// The parameters the configuration asks for.
    pub fn from_config(config: &PasswordConfig) -> Self {
        Self {
            memory_kib: config.argon2_memory_kib,
            iterations: config.argon2_iterations,
            parallelism: config.argon2_parallelism,
        }
    }

    fn hasher(&self) -> Result<Argon2<'static>, IdpError> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| IdpError::Internal(format!("argon2 parameters refused: {e}")))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Hashes `password` with `params` on the calling thread. Prefer [`hash`] from async code.
pub fn hash_blocking(params: &HashParams, password: &str) -> Result<String, IdpError> {
    let mut salt = [0_u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| IdpError::Internal(format!("salt encoding failed: {e}")))?;
    let hash = params
        .hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| IdpError::Internal(format!("password hashing failed: {e}")))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `phc`, on the calling thread. A malformed or
/// foreign hash never matches.
pub fn verify_blocking(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        // The hash carries its own parameters; the verifier uses them, not the defaults.
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A well-formed hash at `params` that no password matches. Verifying against it costs what
/// verifying a real hash costs, so an unknown RUN answers as slowly as a wrong password.
pub fn dummy_hash(params: &HashParams) -> String {
    format!(
        "$argon2id$v=19$m={},t={},p={}$Y2xhdmUtZHVtbXktc2FsdA${}",
        params.memory_kib,
        params.iterations,
        params.parallelism,
        "A".repeat(43)
    )
}

/// Whether `phc` was made with other parameters (or another algorithm) than `params`, so it
/// should be replaced after the next successful login.
pub fn needs_rehash(params: &HashParams, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    if parsed.algorithm.as_str() != "argon2id" || parsed.version != Some(0x13) {
        return true;
    }
    match Params::try_from(&parsed) {
        Ok(found) => {
            found.m_cost() != params.memory_kib
                || found.t_cost() != params.iterations
                || found.p_cost() != params.parallelism
        }
        Err(_) => true,
    }
}

/// Hashes `password` with the configured parameters, on a blocking thread, waiting for a free
/// hashing slot first.
pub async fn hash(ctx: &Ctx, password: &str) -> Result<String, IdpError> {
    let params = HashParams::from_config(&ctx.config.passwords);
    let password = Zeroizing::new(password.to_owned());
    run_in_slot(ctx, move |memory| hash_in(memory, &params, &password)).await?
}

/// Checks `password` against `phc` on a blocking thread; with no hash (unknown account, or one
/// without a password yet) it checks against [`dummy_hash`] so the time taken is the same.
pub async fn verify(ctx: &Ctx, password: &str, phc: Option<&str>) -> Result<bool, IdpError> {
    let params = HashParams::from_config(&ctx.config.passwords);
    let known = phc.is_some();
    let phc = phc.map_or_else(|| dummy_hash(&params), str::to_owned);
    let password = Zeroizing::new(password.to_owned());
    let matched = run_in_slot(ctx, move |memory| verify_in(memory, &password, &phc)).await?;
    Ok(known && matched)
}

/// The password-hashing slots: how many hashes may run at once, and the argon2 working
/// memory of each, kept from one hash to the next.
///
/// Each hash needs `argon2_memory_kib` of working memory. Allocated afresh for every hash on
/// whichever blocking thread ran it, those blocks stayed in the allocator's per-thread arenas
/// after use, and a burst of logins left the server hundreds of MB larger for good. Reused,
/// the memory is bounded by slots × memory cost.
#[derive(Debug)]
pub struct HashSlots {
    permits: Arc<tokio::sync::Semaphore>,
    memory: Mutex<Vec<Vec<Block>>>,
}

impl HashSlots {
    /// `slots` hashes at once.
    pub fn new(slots: usize) -> Self {
        Self {
            permits: Arc::new(tokio::sync::Semaphore::new(slots)),
            memory: Mutex::new(Vec::new()),
        }
    }

    fn take_memory(&self) -> Vec<Block> {
        self.memory
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_default()
    }

    fn give_back(&self, memory: Vec<Block>) {
        self.memory
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(memory);
    }
}

/// `memory` grown to at least the `blocks` argon2 needs.
fn with_blocks(memory: &mut Vec<Block>, blocks: usize) -> &mut [Block] {
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    memory.as_mut_slice()
}

/// [`hash_blocking`] in the working memory `memory`.
fn hash_in(
    memory: &mut Vec<Block>,
    params: &HashParams,
    password: &str,
) -> Result<String, IdpError> {
    let failed =
        |e: &dyn std::fmt::Display| IdpError::Internal(format!("password hashing failed: {e}"));
    let mut salt = [0_u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| IdpError::Internal(format!("salt encoding failed: {e}")))?;
    let hasher = params.hasher()?;
    let argon2_params = hasher.params().clone();
    let mut salt_bytes = [0_u8; 64];
    let raw_salt = salt.decode_b64(&mut salt_bytes).map_err(|e| failed(&e))?;
    let mut out = Zeroizing::new(vec![0_u8; Params::DEFAULT_OUTPUT_LEN]);
    hasher
        .hash_password_into_with_memory(
            password.as_bytes(),
            raw_salt,
            &mut out,
            with_blocks(memory, argon2_params.block_count()),
        )
        .map_err(|e| failed(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&argon2_params).map_err(|e| failed(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(phc.to_string())
}

/// [`verify_blocking`] in the working memory `memory`: the same checks as argon2's own
/// verifier, with the parameters the hash carries and a constant-time comparison.
fn verify_in(memory: &mut Vec<Block>, password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let mut salt_bytes = [0_u8; 64];
    let Ok(raw_salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks = params.block_count();
    let mut out = Zeroizing::new(vec![0_u8; expected.len()]);
    let computed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password.as_bytes(),
        raw_salt,
        &mut out,
        with_blocks(memory, blocks),
    );
    computed.is_ok() && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
}

async fn run_in_slot<T: Send + 'static>(
    ctx: &Ctx,
    work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
) -> Result<T, IdpError> {
    // The permit moves into the blocking task, so a slot is held exactly as long as the work
    // runs, even if the request that asked for it goes away.
    let permit = ctx
        .hash_slots
        .permits
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| IdpError::Internal(format!("hash slots closed: {e}")))?;
    let slots = ctx.hash_slots.clone();
    tokio::task::spawn_blocking(move || {
        // At most one buffer per permit is out at a time, so there are never more buffers
        // than slots.
        let mut memory = slots.take_memory();
        let result = work(&mut memory);
        slots.give_back(memory);
        drop(permit);
        result
    })
    .await
    .map_err(|e| IdpError::Internal(format!("hashing task failed: {e}")))
}

/// Why a password was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum PolicyViolation {
    /// Fewer characters than the configured minimum.
    TooShort {
        /// The minimum.
        min: usize,
    },
    /// More than [`MAX_LENGTH`] characters.
    TooLong {
        /// The maximum.
        max: usize,
    },
    /// The password is, or contains, the citizen's RUN.
    ContainsRun,
    /// The password contains one of the citizen's names.
    ContainsName,
    /// The password is one of the most common passwords, perhaps with digits or symbols added.
    Common,
}

impl PolicyViolation {
    /// A short stable code, for JSON output.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooShort { .. } => "too_short",
            Self::TooLong { .. } => "too_long",
            Self::ContainsRun => "contains_run",
            Self::ContainsName => "contains_name",
            Self::Common => "common",
        }
    }

    /// The reason in Spanish, for citizens' pages.
    pub fn message_es(&self) -> String {
        match self {
            Self::TooShort { min } => {
                format!("La contraseña debe tener al menos {min} caracteres.")
            }
            Self::TooLong { max } => {
                format!("La contraseña no puede tener más de {max} caracteres.")
            }
            Self::ContainsRun => "La contraseña no puede contener tu RUN.".into(),
            Self::ContainsName => {
                "La contraseña no puede contener tu nombre ni tus apellidos.".into()
            }
            Self::Common => {
                "Esa contraseña es demasiado común y fácil de adivinar; elige otra.".into()
            }
        }
    }

    /// The reason in the language of `lang` (a tag such as `en` or `es-CL`): English for `en…`,
    /// Spanish otherwise.
    pub fn message(&self, lang: &str) -> String {
        if lang.get(..2).is_some_and(|l| l.eq_ignore_ascii_case("en")) {
            self.to_string()
        } else {
            self.message_es()
        }
    }
}

impl fmt::Display for PolicyViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { min } => {
                write!(f, "The password must have at least {min} characters.")
            }
            Self::TooLong { max } => {
                write!(f, "The password cannot have more than {max} characters.")
            }
            Self::ContainsRun => f.write_str("The password cannot contain your RUN."),
            Self::ContainsName => {
                f.write_str("The password cannot contain your given names or family names.")
            }
            Self::Common => {
                f.write_str("That password is too common and easy to guess; choose another.")
            }
        }
    }
}

/// Checks `password` against the policy for the citizen with this RUN and names.
pub fn check_policy(
    config: &PasswordConfig,
    password: &str,
    run: &Run,
    given_names: &str,
    family_names: &str,
) -> Result<(), PolicyViolation> {
    let length = password.chars().count();
    if length > MAX_LENGTH {
        return Err(PolicyViolation::TooLong { max: MAX_LENGTH });
    }
    // The RUN and names come before the length: "your RUN is not a password" helps more than
    // "too short" when someone types their RUN.
    if contains_run(password, run) {
        return Err(PolicyViolation::ContainsRun);
    }
    let folded = fold(password);
    if name_parts(given_names)
        .chain(name_parts(family_names))
        .any(|part| folded.contains(&part))
    {
        return Err(PolicyViolation::ContainsName);
    }
    if length < config.min_length {
        return Err(PolicyViolation::TooShort {
            min: config.min_length,
        });
    }
    if is_common(password) {
        return Err(PolicyViolation::Common);
    }
    Ok(())
}

/// Whether the password, ignoring dots, hyphens and spaces, contains the RUN's number (or is
/// the RUN, for numbers too short for containment to mean anything).
fn contains_run(password: &str, run: &Run) -> bool {
    let squeezed: String = password
        .chars()
        .filter(|c| !matches!(c, '.' | '-' | ' '))
        .collect::<String>()
        .to_ascii_lowercase();
    let number = run.number().to_string();
    let with_dv = format!("{number}{}", run.check_digit().to_ascii_lowercase());
    if number.len() >= 6 {
        squeezed.contains(&number)
    } else {
        squeezed == number || squeezed == with_dv
    }
}

/// Words that join surnames ("del Río", "de la Fuente") rather than being names themselves.
const NAME_PARTICLES: &[&str] = &[
    "de", "del", "la", "las", "los", "y", "e", "van", "von", "der", "den", "da", "das", "do",
    "dos", "di", "du", "le", "les",
];

/// The parts of a name worth refusing in a password: three characters or more and not a
/// particle, folded to lowercase without accents.
fn name_parts(names: &str) -> impl Iterator<Item = String> + '_ {
    names
        .split(|c: char| c.is_whitespace() || c == '-' || c == '\'')
        .map(fold)
        .filter(|part| part.chars().count() >= 3 && !NAME_PARTICLES.contains(&part.as_str()))
}

/// Lowercase without the accents Spanish and its neighbours use, so "José" and "JOSE" compare
/// equal.
fn fold(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            'ý' | 'ÿ' => 'y',
            other => other,
        })
        .collect()
}

/// Whether the password is on the common list, as typed or with digits and symbols appended
/// ("sunshine2024!" is as guessable as "sunshine").
fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    let stem = lower.trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation());
    let on_list = |candidate: &str| COMMON_PASSWORDS.lines().any(|line| line == candidate);
    on_list(&lower) || (stem.chars().count() >= 4 && stem != lower && on_list(stem))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_in_reused_memory_agrees_with_argon2_itself() {
        let small = HashParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        let larger = HashParams {
            memory_kib: 256,
            ..small
        };
        let mut memory = Vec::new();
        // Made in reused memory (grown, then reused at a smaller cost), checked by argon2's
        // own verifier, and the other way round.
        for params in [larger, small] {
            let phc = hash_in(&mut memory, &params, "una frase de paso larga").unwrap();
            assert!(phc.starts_with(&format!("$argon2id$v=19$m={},t=1,p=1$", params.memory_kib)));
            assert!(!needs_rehash(&params, &phc));
            assert!(verify_blocking("una frase de paso larga", &phc));
            assert!(!verify_blocking("otra frase de paso larga", &phc));
            let theirs = hash_blocking(&params, "una frase de paso larga").unwrap();
            assert!(verify_in(&mut memory, "una frase de paso larga", &theirs));
            assert!(!verify_in(&mut memory, "otra frase de paso larga", &theirs));
        }
        assert_eq!(memory.len(), 256);
        assert!(!verify_in(&mut memory, "x", "not a hash"));
        assert!(!verify_in(&mut memory, "x", &dummy_hash(&small)));
    }

    fn config() -> PasswordConfig {
        PasswordConfig::default()
    }

    fn run() -> Run {
        Run::parse("12.345.678-5").unwrap()
    }

    fn check(password: &str) -> Result<(), PolicyViolation> {
        check_policy(
            &config(),
            password,
            &run(),
            "María Carmen",
            "Del Río González",
        )
    }

    const CHEAP: HashParams = HashParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn a_long_unrelated_passphrase_is_accepted() {
        assert_eq!(check("tortuga violeta bajo la lluvia"), Ok(()));
    }

    #[test]
    fn short_passwords_are_refused_counting_characters_not_bytes() {
        assert_eq!(check("ñandú-azul"), Ok(()));
        assert_eq!(
            check("ñandú-azu"),
            Err(PolicyViolation::TooShort { min: 10 })
        );
        assert_eq!(
            check(&"x".repeat(MAX_LENGTH + 1)),
            Err(PolicyViolation::TooLong { max: MAX_LENGTH })
        );
    }

    #[test]
    fn the_run_is_refused_in_every_format() {
        for password in [
            "12.345.678-5",
            "12345678-5",
            "123456785",
            "clave12345678",
            "1234.5678xyzw",
        ] {
            assert_eq!(
                check(password),
                Err(PolicyViolation::ContainsRun),
                "{password}"
            );
        }
    }

    #[test]
    fn names_are_refused_ignoring_case_and_accents_but_particles_are_not_names() {
        for password in [
            "MARIA-es-la-mejor",
            "soy gonzalez 1990",
            "rio profundo y frio",
            "CáRMEN!!2024x",
        ] {
            assert_eq!(
                check(password),
                Err(PolicyViolation::ContainsName),
                "{password}"
            );
        }
        // "Del" is a particle, not a name; "modelo" must not be refused for containing it.
        assert_eq!(check("modelo antiguo de tren"), Ok(()));
    }

    #[test]
    fn common_passwords_are_refused_case_insensitively_and_with_suffixes() {
        for password in [
            "0987654321",
            "Password123",
            "QWERTYUIOP",
            "iloveyou2024!",
            "qwertyuiop1",
        ] {
            assert_eq!(check(password), Err(PolicyViolation::Common), "{password}");
        }
    }

    #[test]
    fn the_common_list_is_large_lowercase_and_clean() {
        let lines: Vec<&str> = COMMON_PASSWORDS.lines().collect();
        assert!(lines.len() >= 2000, "only {} entries", lines.len());
        for line in &lines {
            assert!(!line.is_empty());
            assert_eq!(*line, line.to_lowercase());
            assert_eq!(*line, line.trim());
        }
    }

    #[test]
    fn messages_exist_in_both_languages() {
        let v = PolicyViolation::TooShort { min: 10 };
        assert!(v.message("es").contains("al menos 10"));
        assert!(v.message("en-GB").contains("at least 10"));
        assert!(PolicyViolation::Common.message("es-CL").contains("común"));
    }

    #[test]
    fn hashes_verify_and_carry_their_parameters() {
        let phc = hash_blocking(&CHEAP, "tortuga violeta").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(verify_blocking("tortuga violeta", &phc));
        assert!(!verify_blocking("tortuga violetA", &phc));
        assert!(!verify_blocking("tortuga violeta", "not a hash"));
        assert!(!needs_rehash(&CHEAP, &phc));
        let stronger = HashParams {
            iterations: 2,
            ..CHEAP
        };
        assert!(needs_rehash(&stronger, &phc));
        assert!(needs_rehash(&CHEAP, "$2b$12$not-argon"));
    }

    #[test]
    fn the_dummy_hash_is_well_formed_and_matches_nothing() {
        let dummy = dummy_hash(&CHEAP);
        assert!(PasswordHash::new(&dummy).is_ok(), "{dummy}");
        assert!(!needs_rehash(&CHEAP, &dummy));
        assert!(!verify_blocking("", &dummy));
        assert!(!verify_blocking("tortuga violeta", &dummy));
    }
}
