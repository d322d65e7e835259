//! The embedded database's disk fills up while clave serves: writes fail with a clear 503,
//! reads keep working, nothing half-written is left, and writes resume once space is freed.
//!
//! The database lives on a one-megabyte filesystem of its own (a tmpfs, which needs the
//! privilege to mount; the test says so and skips without it). A filler file takes the last
//! free byte, so SQLite's next append to its write-ahead log gets `ENOSPC` from the kernel,
//! exactly as on a full disk.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use clave_common::config::Secret;
use serde_json::Value;

use crate::support::TestApp;
use crate::support::rp::{register, web_client};

/// A small tmpfs mounted for one test, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cannot mount a small tmpfs (needs root): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file until the filesystem refuses another byte.
    fn fill(&self) -> PathBuf {
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 4096];
        loop {
            match file.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        // Unbuffered writes: the last partial block took the last free byte.
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: the server's pool may still hold the database open while it shuts down.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// A form post with the client's credentials: the status and the JSON body.
async fn call(
    app: &TestApp,
    path: &str,
    id: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(app.at(path))
        .basic_auth(id, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_full_disk_refuses_writes_with_503_and_reads_keep_working() {
    let disk = match SmallDisk::mount("16m") {
        Ok(disk) => disk,
        Err(reason) => {
            eprintln!("skipped: {reason}");
            return;
        }
    };
    // On either CI run the fault is SQLite's: the database is a file on the small disk.
    let url = clave_common::db::sqlite_url_in(disk.path());
    let app = TestApp::with_config(|c| c.database.url = Some(Secret::new(&url))).await;
    let mut service = web_client("Servicio de prueba");
    service.grants = vec!["client_credentials".into()];
    service.redirect_uris.clear();
    let client = register(&app, service).await;
    let secret = client.secret.clone().unwrap();
    let id = client.client_id.clone();
    let (status, body) = call(
        &app,
        "/oauth2/token",
        &id,
        &secret,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let access = body["access_token"].as_str().unwrap().to_owned();
    let journal_before = app.app.journal.verify().await.unwrap();
    assert!(journal_before.is_intact());

    // Empty the write-ahead log into the database file, so the next write must grow it.
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(app.app.db.pool())
        .await
        .unwrap();
    let filler = disk.fill();

    // Revoking a token writes; it is refused cleanly, and may be retried.
    for _ in 0..3 {
        let (status, body) =
            call(&app, "/oauth2/revoke", &id, &secret, &[("token", &access)]).await;
        assert_eq!(status, 503, "a write on a full disk: {body}");
        assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    }
    // Reads go on: the token is still active, tokens are issued, keys published.
    let (status, body) = call(
        &app,
        "/oauth2/introspect",
        &id,
        &secret,
        &[("token", &access)],
    )
    .await;
    assert_eq!(
        (status, &body["active"]),
        (200, &Value::Bool(true)),
        "{body}"
    );
    let (status, body) = call(
        &app,
        "/oauth2/token",
        &id,
        &secret,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let http = reqwest::Client::new();
    for path in [
        "/readyz",
        "/oauth2/jwks",
        "/.well-known/openid-configuration",
    ] {
        let response = http.get(app.at(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "a read on a full disk: {path}");
    }
    let journal = app.app.journal.verify().await.unwrap();
    assert!(journal.is_intact(), "{:?}", journal.first_problem);
    assert_eq!(
        journal.entries, journal_before.entries,
        "a refused write journals nothing"
    );

    // Every connection that met the full disk is usable again (or replaced): several writes
    // in a row, so that each pooled connection serves one.
    std::fs::remove_file(filler).unwrap();
    let (status, body) = call(&app, "/oauth2/revoke", &id, &secret, &[("token", &access)]).await;
    assert_eq!(status, 200, "writes resume once there is room: {body}");
    for round in 0..app.config.database.max_connections {
        let (_, body) = call(
            &app,
            "/oauth2/token",
            &id,
            &secret,
            &[("grant_type", "client_credentials")],
        )
        .await;
        let more = body["access_token"].as_str().unwrap();
        let (status, body) = call(&app, "/oauth2/revoke", &id, &secret, &[("token", more)]).await;
        assert_eq!(
            status, 200,
            "write {round} after the disk had room again: {body}"
        );
    }
    let (status, body) = call(
        &app,
        "/oauth2/introspect",
        &id,
        &secret,
        &[("token", &access)],
    )
    .await;
    assert_eq!(
        (status, &body["active"]),
        (200, &Value::Bool(false)),
        "{body}"
    );
    assert!(app.app.journal.verify().await.unwrap().is_intact());
}
