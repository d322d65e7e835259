//! `clave attribute …` and `clave import attributes …` through the real binary.

use clave_idp::clients::NewClient;
use serde_json::json;

use crate::support::TestApp;
use crate::support::rp::{RUN, citizen, register};

#[tokio::test]
async fn the_catalogue_is_managed_from_the_command_line() {
    let app = TestApp::new().await;
    let list = app.cli(&["--json", "attribute", "list"]);
    assert!(list.success, "{}", list.stderr);
    let names: Vec<String> = list.json()["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    for expected in [
        "given_names",
        "family_names",
        "birthdate",
        "sex",
        "nationality",
        "address",
        "email",
        "phone_number",
        "civil_status",
        "health_insurance_tier",
        "social_register_bracket",
        "disability_registration",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing: {names:?}"
        );
    }

    let defined = app.cli(&[
        "--json",
        "attribute",
        "define",
        "driving_licence_class",
        "--label-es",
        "Clase de licencia",
        "--label-en",
        "Driving licence class",
        "--kind",
        "code",
        "--code",
        "A1",
        "--code",
        "B",
        "--scope",
        "transport",
    ]);
    assert!(defined.success, "{}", defined.stderr);
    assert_eq!(defined.json()["codes"], json!(["A1", "B"]));
    let bad = app.cli(&[
        "attribute",
        "define",
        "Bad-Name",
        "--label-es",
        "x",
        "--label-en",
        "x",
        "--kind",
        "text",
        "--scope",
        "transport",
    ]);
    assert!(!bad.success);
    assert!(bad.stderr.contains("lower-case"), "{}", bad.stderr);
    let no_codes = app.cli(&[
        "attribute",
        "define",
        "tier",
        "--label-es",
        "x",
        "--label-en",
        "x",
        "--kind",
        "code",
        "--scope",
        "transport",
    ]);
    assert!(
        !no_codes.success && no_codes.stderr.contains("--code"),
        "{}",
        no_codes.stderr
    );

    // A client may now be registered for the new scope, and be made its source.
    let source = register(
        &app,
        NewClient {
            name: "Registro de Conductores".into(),
            scopes: vec!["wallet:publish".into(), "transport".into()],
            grants: vec!["client_credentials".into()],
            ..NewClient::default()
        },
    )
    .await;
    let granted = app.cli(&[
        "attribute",
        "grant-source",
        "--attribute",
        "driving_licence_class",
        "--client",
        &source.client_id,
    ]);
    assert!(granted.success, "{}", granted.stderr);
    let shown = app.cli(&["--json", "attribute", "show", "driving_licence_class"]);
    assert_eq!(shown.json()["sources"], json!([source.client_id]));
    let unknown = app.cli(&[
        "attribute",
        "grant-source",
        "--attribute",
        "birthdate",
        "--client",
        "nobody",
    ]);
    assert!(!unknown.success && unknown.stderr.contains("no registered client"));
}

#[tokio::test]
async fn an_import_writes_the_good_lines_and_reports_the_bad_ones_by_number() {
    let app = TestApp::new().await;
    let maria = citizen(&app).await;
    let registry = register(
        &app,
        NewClient {
            name: "Registro Civil".into(),
            scopes: vec!["wallet:publish".into()],
            grants: vec!["client_credentials".into()],
            ..NewClient::default()
        },
    )
    .await;
    for attribute in ["given_names", "family_names", "birthdate", "sex"] {
        app.app
            .wallet
            .catalogue()
            .grant_source(attribute, &registry.client_id)
            .await
            .unwrap();
    }
    let file = app.data_dir().join("registry.jsonl");
    let lines = [
        format!(r#"{{"run": "{RUN}", "attribute": "birthdate", "value": "1985-04-23"}}"#),
        "# a comment".to_owned(),
        r#"{"run": "22.222.222-2", "attribute": "given_names", "value": "Pedro"}"#.to_owned(),
        r#"{"run": "22.222.222-2", "attribute": "family_names", "value": "Rojas"}"#.to_owned(),
        "this is not json".to_owned(),
        format!(r#"{{"run": "{RUN}", "attribute": "sex", "value": "Z"}}"#),
        String::new(),
        format!(r#"{{"run": "{RUN}", "attribute": "sex", "value": "F"}}"#),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = app.cli(&[
        "--json",
        "import",
        "attributes",
        file.to_str().unwrap(),
        "--source",
        &registry.client_id,
    ]);
    assert!(!out.success, "rejected lines make the import fail");
    let summary = out.json();
    assert_eq!(summary["lines"], 8);
    assert_eq!(summary["written"], 4);
    assert_eq!(summary["citizens_created"], 1);
    let errors: Vec<u64> = summary["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(errors, [5, 6]);
    let values = app.app.wallet.values().current(&maria.id).await.unwrap();
    assert_eq!(values.len(), 2);

    // Running it again changes nothing.
    let again = app.cli(&[
        "--json",
        "import",
        "attributes",
        file.to_str().unwrap(),
        "--source",
        &registry.client_id,
    ]);
    assert_eq!(again.json()["written"], 0);
    assert_eq!(again.json()["unchanged"], 4);
    let unknown = app.cli(&[
        "import",
        "attributes",
        file.to_str().unwrap(),
        "--source",
        "nobody",
    ]);
    assert!(!unknown.success && unknown.stderr.contains("no registered client"));
}
