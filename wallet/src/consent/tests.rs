use super::*;
use crate::value::Kind;

fn def(name: &str, scope: &str) -> AttributeDef {
    AttributeDef {
        name: name.into(),
        label_es: name.into(),
        label_en: name.into(),
        kind: Kind::Text,
        codes: Vec::new(),
        sensitive: false,
        scope: scope.into(),
        self_asserted: false,
        sources: Vec::new(),
    }
}

fn catalogue() -> Vec<AttributeDef> {
    vec![
        def("given_names", "profile"),
        def("birthdate", "profile"),
        def("health_insurance_tier", "health"),
        def("phone_number", "phone"),
    ]
}

fn scopes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn resolve(
    client_scopes: &[&str],
    scopes_asked: &[&str],
    details: Option<&str>,
) -> Result<Ask, String> {
    let client = clave_idp::clients::testing::client_with_scopes(&scopes(client_scopes));
    resolve_ask(&catalogue(), &client, &scopes(scopes_asked), details, 1000)
}

#[test]
fn scopes_ask_for_their_attributes_as_optional_one_time_data() {
    let ask = resolve(&["openid", "profile"], &["openid", "profile"], None).unwrap();
    assert_eq!(ask.optional, ["given_names", "birthdate"]);
    assert!(ask.required.is_empty());
    assert_eq!(ask.mode, Mode::OneTime);
    assert!(resolve(&["openid"], &["openid"], None).unwrap().is_empty());
}

#[test]
fn details_name_required_and_optional_attributes_of_registered_scopes() {
    let details = r#"[{"type": "clave_wallet", "attributes": ["health_insurance_tier"],
        "optional_attributes": ["phone_number", "health_insurance_tier"],
        "purpose": " Atención ", "mode": "ongoing", "expires_in": 600}]"#;
    let ask = resolve(&["openid", "health", "phone"], &["openid"], Some(details)).unwrap();
    assert_eq!(ask.required, ["health_insurance_tier"]);
    assert_eq!(ask.optional, ["phone_number"]);
    assert_eq!(ask.purpose.as_deref(), Some("Atención"));
    assert_eq!(ask.mode, Mode::Ongoing);
    assert_eq!(ask.expires_in, Some(600));
}

#[test]
fn bad_details_say_what_to_fix() {
    let cases = [
        ("{}", "JSON array"),
        ("[]", "exactly one"),
        (
            r#"[{"type": "payment"}]"#,
            "unknown authorization_details type",
        ),
        (r#"[{"type": "clave_wallet"}]"#, "no `attributes`"),
        (
            r#"[{"type": "clave_wallet", "attributes": ["shoe_size"]}]"#,
            "no attribute",
        ),
        (
            r#"[{"type": "clave_wallet", "attributes": ["health_insurance_tier"]}]"#,
            "not registered for",
        ),
        (
            r#"[{"type": "clave_wallet", "attributes": ["given_names"], "mode": "forever"}]"#,
            "`mode`",
        ),
        (
            r#"[{"type": "clave_wallet", "attributes": ["given_names"], "expires_in": 5}]"#,
            "ongoing consents only",
        ),
        (
            r#"[{"type": "clave_wallet", "attributes": ["given_names"], "mode": "ongoing", "expires_in": 5000}]"#,
            "between 1 and 1000",
        ),
        (
            r#"[{"type": "clave_wallet", "attributes": ["given_names"], "colour": "red"}]"#,
            "malformed",
        ),
    ];
    for (details, expected) in cases {
        let err = resolve(&["openid", "profile"], &["openid"], Some(details)).unwrap_err();
        assert!(err.contains(expected), "{details}: {err}");
    }
}

#[test]
fn the_citizen_keeps_required_data_and_chosen_optional_data_that_exists() {
    let ask = Ask {
        required: scopes(&["a", "b"]),
        optional: scopes(&["c", "d"]),
        purpose: None,
        mode: Mode::OneTime,
        expires_in: None,
    };
    let available: BTreeSet<String> = scopes(&["a", "c", "d"]).into_iter().collect();
    assert_eq!(chosen(&ask, &scopes(&["d", "b"]), &available), ["a", "d"]);
    assert!(chosen(&ask, &[], &BTreeSet::new()).is_empty());
}
