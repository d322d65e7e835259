//! The attribute catalogue: what a wallet can hold, how each attribute is typed, which scope
//! asks for it, whether releasing it needs level 2, whether the citizen may assert it, and
//! which registered clients are its authoritative sources.
//!
//! A default catalogue is written at start ([`Catalogue::ensure_defaults`]) without touching
//! definitions an operator changed; `clave attribute define` adds or changes entries.

use clave_common::journal::{self, NewEvent};
use serde::Serialize;
use serde_json::json;

use crate::value::Kind;
use crate::{Wallet, WalletError};

/// One attribute of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttributeDef {
    /// Its name, also the claim name it is released under.
    pub name: String,
    /// Its label in Spanish.
    pub label_es: String,
    /// Its label in English.
    pub label_en: String,
    /// Its type.
    #[serde(serialize_with = "kind_name")]
    pub kind: Kind,
    /// For a code list: the codes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<String>,
    /// Whether releasing it needs level 2 or more.
    pub sensitive: bool,
    /// The scope that asks for it.
    pub scope: String,
    /// Whether the citizen may assert it (then unverified until verified).
    pub self_asserted: bool,
    /// The client ids of its authoritative sources.
    pub sources: Vec<String>,
}

fn kind_name<S: serde::Serializer>(kind: &Kind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.as_str())
}

impl AttributeDef {
    /// The label in `lang` (`es` or `en`).
    pub fn label(&self, lang: clave_common::lang::Lang) -> &str {
        match lang {
            clave_common::lang::Lang::En => &self.label_en,
            _ => &self.label_es,
        }
    }
}

/// An attribute to define or redefine.
#[derive(Debug, Clone)]
pub struct NewAttribute {
    /// Its name: lower-case letters, digits and `_`, starting with a letter.
    pub name: String,
    /// Its label in Spanish.
    pub label_es: String,
    /// Its label in English.
    pub label_en: String,
    /// Its type.
    pub kind: Kind,
    /// For a code list: the codes.
    pub codes: Vec<String>,
    /// Whether releasing it needs level 2 or more.
    pub sensitive: bool,
    /// The scope that asks for it.
    pub scope: String,
    /// Whether the citizen may assert it.
    pub self_asserted: bool,
}

struct Default_ {
    name: &'static str,
    es: &'static str,
    en: &'static str,
    kind: Kind,
    codes: &'static [&'static str],
    sensitive: bool,
    scope: &'static str,
    self_asserted: bool,
}

const fn def(
    name: &'static str,
    es: &'static str,
    en: &'static str,
    kind: Kind,
    scope: &'static str,
) -> Default_ {
    Default_ {
        name,
        es,
        en,
        kind,
        codes: &[],
        sensitive: false,
        scope,
        self_asserted: false,
    }
}

/// The catalogue a fresh deployment starts with.
const DEFAULTS: &[Default_] = &[
    def(
        "given_names",
        "Nombres",
        "Given names",
        Kind::Text,
        "profile",
    ),
    def(
        "family_names",
        "Apellidos",
        "Family names",
        Kind::Text,
        "profile",
    ),
    def(
        "birthdate",
        "Fecha de nacimiento",
        "Date of birth",
        Kind::Date,
        "profile",
    ),
    Default_ {
        codes: &["F", "M", "X"],
        ..def("sex", "Sexo", "Sex", Kind::Code, "profile")
    },
    def(
        "nationality",
        "Nacionalidad",
        "Nationality",
        Kind::Text,
        "profile",
    ),
    Default_ {
        self_asserted: true,
        ..def("address", "Domicilio", "Address", Kind::Address, "address")
    },
    Default_ {
        self_asserted: true,
        ..def(
            "email",
            "Correo electrónico",
            "Email address",
            Kind::Text,
            "email",
        )
    },
    Default_ {
        self_asserted: true,
        ..def(
            "phone_number",
            "Teléfono",
            "Phone number",
            Kind::Text,
            "phone",
        )
    },
    Default_ {
        codes: &[
            "soltero",
            "casado",
            "viudo",
            "divorciado",
            "separado_judicialmente",
            "conviviente_civil",
        ],
        ..def(
            "civil_status",
            "Estado civil",
            "Civil status",
            Kind::Code,
            "civil_status",
        )
    },
    def(
        DOCUMENT_SERIAL,
        "Número de documento de la cédula de identidad",
        "Identity card serial number",
        Kind::Text,
        "identity_document",
    ),
    Default_ {
        codes: &["A", "B", "C", "D"],
        sensitive: true,
        ..def(
            "health_insurance_tier",
            "Tramo de FONASA",
            "Health insurance tier",
            Kind::Code,
            "health",
        )
    },
    Default_ {
        codes: &["40", "50", "60", "70", "80", "90", "100"],
        sensitive: true,
        ..def(
            "social_register_bracket",
            "Tramo del Registro Social de Hogares",
            "Social register bracket",
            Kind::Code,
            "social",
        )
    },
    Default_ {
        sensitive: true,
        ..def(
            "disability_registration",
            "Inscripción en el Registro Nacional de la Discapacidad",
            "Disability registration",
            Kind::Boolean,
            "social",
        )
    },
];

/// The serial number of the citizen's identity card, published by the identity registry: a
/// citizen who has never had a password proves possession of the card with it to activate
/// their account (see `clave_idp::activation`).
pub const DOCUMENT_SERIAL: &str = "document_serial";

/// The attributes whose authoritative source is the identity registry: a client that is a
/// source of one of them may create the accounts of citizens it publishes for.
pub const IDENTITY_ATTRIBUTES: &[&str] = &["given_names", "family_names"];

/// Scopes that belong to the idp or the APIs and cannot name attributes.
const RESERVED_SCOPES: &[&str] = &["openid", "run", "name", "offline_access"];

#[derive(sqlx::FromRow)]
struct Row {
    name: String,
    label_es: String,
    label_en: String,
    kind: String,
    codes: Option<String>,
    sensitive: i64,
    scope: String,
    self_asserted: i64,
}

impl Row {
    fn into_def(self, sources: Vec<String>) -> Result<AttributeDef, WalletError> {
        let corrupt = |what: &str| {
            WalletError::Internal(format!("attribute {} has a corrupt {what}", self.name))
        };
        let kind = Kind::parse(&self.kind).ok_or_else(|| corrupt("kind"))?;
        let codes = match &self.codes {
            Some(text) => serde_json::from_str(text).map_err(|_| corrupt("code list"))?,
            None => Vec::new(),
        };
        Ok(AttributeDef {
            name: self.name,
            label_es: self.label_es,
            label_en: self.label_en,
            kind,
            codes,
            sensitive: self.sensitive != 0,
            scope: self.scope,
            self_asserted: self.self_asserted != 0,
            sources,
        })
    }
}

const COLUMNS: &str = "name, label_es, label_en, kind, codes, sensitive, scope, self_asserted";

/// The catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Catalogue<'a> {
    wallet: &'a Wallet,
}

impl Wallet {
    /// The attribute catalogue.
    pub fn catalogue(&self) -> Catalogue<'_> {
        Catalogue { wallet: self }
    }
}

impl Catalogue<'_> {
    /// Writes the default attributes that are not defined yet; never changes existing ones.
    pub async fn ensure_defaults(&self) -> Result<(), WalletError> {
        let now = self.wallet.now();
        for d in DEFAULTS {
            let codes = (!d.codes.is_empty())
                .then(|| serde_json::to_string(d.codes).unwrap_or_else(|_| "[]".into()));
            sqlx::query(
                "INSERT INTO wallet_attributes (name, label_es, label_en, kind, codes, sensitive, \
                 scope, self_asserted, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) ON CONFLICT (name) DO NOTHING",
            )
            .bind(d.name)
            .bind(d.es)
            .bind(d.en)
            .bind(d.kind.as_str())
            .bind(codes)
            .bind(i64::from(d.sensitive))
            .bind(d.scope)
            .bind(i64::from(d.self_asserted))
            .bind(now)
            .execute(self.wallet.db().pool())
            .await?;
        }
        Ok(())
    }

    /// Every attribute, by name.
    pub async fn list(&self) -> Result<Vec<AttributeDef>, WalletError> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM wallet_attributes ORDER BY name"
        ))
        .fetch_all(self.wallet.db().pool())
        .await?;
        let sources: Vec<(String, String)> = sqlx::query_as(
            "SELECT attribute, client_id FROM wallet_sources ORDER BY attribute, client_id",
        )
        .fetch_all(self.wallet.db().pool())
        .await?;
        rows.into_iter()
            .map(|row| {
                let mine = sources
                    .iter()
                    .filter(|(a, _)| *a == row.name)
                    .map(|(_, c)| c.clone())
                    .collect();
                row.into_def(mine)
            })
            .collect()
    }

    /// One attribute.
    pub async fn get(&self, name: &str) -> Result<Option<AttributeDef>, WalletError> {
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM wallet_attributes WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(self.wallet.db().pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let sources: Vec<(String,)> = sqlx::query_as(
            "SELECT client_id FROM wallet_sources WHERE attribute = $1 ORDER BY client_id",
        )
        .bind(name)
        .fetch_all(self.wallet.db().pool())
        .await?;
        row.into_def(sources.into_iter().map(|(c,)| c).collect())
            .map(Some)
    }

    /// Defines an attribute, or changes its definition; a change of type is refused while
    /// values of the old type are stored. Journaled as `attribute.defined`.
    pub async fn define(&self, new: NewAttribute) -> Result<AttributeDef, WalletError> {
        check_name(&new.name)?;
        check_name(&new.scope).map_err(|_| {
            WalletError::Invalid(format!(
                "{:?} is not a scope name: use lower-case letters, digits and `_`",
                new.scope
            ))
        })?;
        if RESERVED_SCOPES.contains(&new.scope.as_str()) {
            return Err(WalletError::Invalid(format!(
                "the scope {:?} belongs to the identity provider; choose another",
                new.scope
            )));
        }
        for (what, label) in [("Spanish", &new.label_es), ("English", &new.label_en)] {
            if label.trim().is_empty() || label.chars().count() > 120 {
                return Err(WalletError::Invalid(format!(
                    "the {what} label must have 1 to 120 characters"
                )));
            }
        }
        let codes = match new.kind {
            Kind::Code if new.codes.is_empty() => {
                return Err(WalletError::Invalid(
                    "a code-list attribute needs its codes (--code A --code B …)".into(),
                ));
            }
            Kind::Code => Some(serde_json::to_string(&new.codes).unwrap_or_default()),
            _ if !new.codes.is_empty() => {
                return Err(WalletError::Invalid(
                    "only code-list attributes have codes".into(),
                ));
            }
            _ => None,
        };
        let ctx = self.wallet.idp().ctx();
        let now = ctx.clock.unix();
        let mut tx = ctx.db.begin().await?;
        let existing: Option<(String,)> =
            sqlx::query_as("SELECT kind FROM wallet_attributes WHERE name = $1")
                .bind(&new.name)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some((kind,)) = &existing
            && kind != new.kind.as_str()
        {
            let (stored,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM wallet_values WHERE attribute = $1")
                    .bind(&new.name)
                    .fetch_one(&mut *tx)
                    .await?;
            if stored > 0 {
                return Err(WalletError::Conflict(format!(
                    "{} holds {stored} values of type {kind}; its type cannot change",
                    new.name
                )));
            }
        }
        sqlx::query(
            "INSERT INTO wallet_attributes (name, label_es, label_en, kind, codes, sensitive, \
             scope, self_asserted, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) ON CONFLICT (name) DO UPDATE SET \
             label_es = excluded.label_es, label_en = excluded.label_en, kind = excluded.kind, \
             codes = excluded.codes, sensitive = excluded.sensitive, scope = excluded.scope, \
             self_asserted = excluded.self_asserted, updated_at = excluded.updated_at",
        )
        .bind(&new.name)
        .bind(new.label_es.trim())
        .bind(new.label_en.trim())
        .bind(new.kind.as_str())
        .bind(codes)
        .bind(i64::from(new.sensitive))
        .bind(&new.scope)
        .bind(i64::from(new.self_asserted))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let event = NewEvent::new("attribute.defined").data(json!({
            "attribute": new.name,
            "kind": new.kind.as_str(),
            "scope": new.scope,
            "sensitive": new.sensitive,
            "changed": existing.is_some(),
        }));
        journal::append(&mut tx, ctx.clock.now(), &event).await?;
        tx.commit().await?;
        self.get(&new.name)
            .await?
            .ok_or_else(|| WalletError::Internal("a defined attribute vanished".into()))
    }

    /// Makes registered client `client_id` an authoritative source of `attribute`.
    /// Journaled as `attribute.source_granted`; granting twice changes nothing.
    pub async fn grant_source(&self, attribute: &str, client_id: &str) -> Result<(), WalletError> {
        self.set_source(attribute, client_id, true, None).await
    }

    /// Takes back what [`Catalogue::grant_source`] gave. Values the client published stay,
    /// with their provenance.
    pub async fn revoke_source(&self, attribute: &str, client_id: &str) -> Result<(), WalletError> {
        self.set_source(attribute, client_id, false, None).await
    }

    /// [`Catalogue::grant_source`] (`grant`) or [`Catalogue::revoke_source`] by `actor`, an
    /// administrator's account journaled as the one who acted.
    pub async fn set_source_by(
        &self,
        attribute: &str,
        client_id: &str,
        grant: bool,
        actor: &str,
    ) -> Result<(), WalletError> {
        self.set_source(attribute, client_id, grant, Some(actor))
            .await
    }

    async fn set_source(
        &self,
        attribute: &str,
        client_id: &str,
        grant: bool,
        actor: Option<&str>,
    ) -> Result<(), WalletError> {
        let Some(def) = self.get(attribute).await? else {
            return Err(WalletError::NotFound(format!(
                "no attribute {attribute:?} in the catalogue (see `clave attribute list`)"
            )));
        };
        // A removed client stays a source until revoked, so revoking needs only the grant.
        let holds = !grant && def.sources.iter().any(|s| s == client_id);
        if !holds && self.wallet.idp().clients().get(client_id).await?.is_none() {
            return Err(WalletError::NotFound(format!(
                "no registered client {client_id:?} (see `clave client list`)"
            )));
        }
        let ctx = self.wallet.idp().ctx();
        let mut tx = ctx.db.begin().await?;
        let changed = if grant {
            sqlx::query(
                "INSERT INTO wallet_sources (attribute, client_id, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (attribute, client_id) DO NOTHING",
            )
            .bind(attribute)
            .bind(client_id)
            .bind(ctx.clock.unix())
            .execute(&mut *tx)
            .await?
        } else {
            sqlx::query("DELETE FROM wallet_sources WHERE attribute = $1 AND client_id = $2")
                .bind(attribute)
                .bind(client_id)
                .execute(&mut *tx)
                .await?
        }
        .rows_affected();
        if changed > 0 {
            let kind = if grant {
                "attribute.source_granted"
            } else {
                "attribute.source_revoked"
            };
            // Without an account acting (the command line), the source itself is the actor,
            // so that its grants are found under it.
            let event = NewEvent::new(kind)
                .actor(actor.unwrap_or(client_id))
                .subject(client_id)
                .data(json!({"attribute": attribute, "client_id": client_id}));
            journal::append(&mut tx, ctx.clock.now(), &event).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The attributes `client_id` is an authoritative source of.
    pub async fn sourced_by(&self, client_id: &str) -> Result<Vec<String>, WalletError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT attribute FROM wallet_sources WHERE client_id = $1")
                .bind(client_id)
                .fetch_all(self.wallet.db().pool())
                .await?;
        Ok(rows.into_iter().map(|(a,)| a).collect())
    }

    /// The scopes attributes are asked for with.
    pub async fn scopes(&self) -> Result<Vec<String>, WalletError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT DISTINCT scope FROM wallet_attributes ORDER BY scope")
                .fetch_all(self.wallet.db().pool())
                .await?;
        Ok(rows.into_iter().map(|(s,)| s).collect())
    }
}

/// Attribute and scope names: a lower-case letter, then lower-case letters, digits or `_`,
/// at most 64 in all.
fn check_name(name: &str) -> Result<(), WalletError> {
    let ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(WalletError::Invalid(format!(
            "{name:?} is not an attribute name: use lower-case letters, digits and `_`, starting with a letter"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_catalogue_is_well_formed() {
        for d in DEFAULTS {
            assert!(check_name(d.name).is_ok(), "{}", d.name);
            assert!(!RESERVED_SCOPES.contains(&d.scope));
            assert_eq!(d.kind == Kind::Code, !d.codes.is_empty(), "{}", d.name);
        }
        let sensitive: Vec<&str> = DEFAULTS
            .iter()
            .filter(|d| d.sensitive)
            .map(|d| d.name)
            .collect();
        assert_eq!(
            sensitive,
            [
                "health_insurance_tier",
                "social_register_bracket",
                "disability_registration"
            ]
        );
    }

    #[test]
    fn names_are_plain_identifiers() {
        assert!(check_name("health_insurance_tier").is_ok());
        assert!(check_name("Tier").is_err());
        assert!(check_name("1tier").is_err());
        assert!(check_name("tier-1").is_err());
        assert!(check_name("").is_err());
    }
}
