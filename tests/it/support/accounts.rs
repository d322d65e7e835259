//! Citizens and the login page: fixtures that go through the domain services, and helpers
//! that read and submit the login form as a browser would.

use clave_common::Run;
use clave_idp::accounts::{Account, NewCitizen};
use reqwest::StatusCode;

use super::TestApp;

impl TestApp {
    /// Creates a citizen with this RUN and password, named María Carmen Del Río González.
    pub async fn citizen(&self, run: &str, password: &str) -> Account {
        self.app
            .idp
            .accounts()
            .create(NewCitizen {
                run: Run::parse(run).unwrap(),
                given_names: "María Carmen".into(),
                family_names: "Del Río González".into(),
                email: Some("maria@example.cl".into()),
                password: Some(password.into()),
            })
            .await
            .unwrap()
    }

    /// The journal entries of one kind, oldest first.
    pub async fn journal_of_kind(&self, kind: &str) -> Vec<clave_common::journal::JournalEntry> {
        self.app
            .journal
            .list(clave_common::journal::JournalFilter {
                kind: Some(kind.into()),
                limit: Some(1000),
                ..Default::default()
            })
            .await
            .unwrap()
    }
}

/// A page as the browser got it.
#[derive(Debug)]
pub struct Fetched {
    /// The status.
    pub status: StatusCode,
    /// The `Set-Cookie` headers.
    pub set_cookies: Vec<String>,
    /// The `Location` header.
    pub location: Option<String>,
    /// The body.
    pub body: String,
}

impl Fetched {
    async fn from(response: reqwest::Response) -> Self {
        let status = response.status();
        let set_cookies = response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = response.text().await.unwrap();
        Self {
            status,
            set_cookies,
            location,
            body,
        }
    }

    /// The `Set-Cookie` header for `name`, if sent.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        let prefix = format!("{name}=");
        self.set_cookies
            .iter()
            .find(|c| c.starts_with(&prefix))
            .map(String::as_str)
    }

    /// The value of the hidden (or any) input `name` in the page.
    pub fn field(&self, name: &str) -> Option<String> {
        input_value(&self.body, name)
    }

    /// The error summary of the page, exactly as sent.
    pub fn error_summary(&self) -> Option<String> {
        let start = self.body.find("<div class=\"error-summary\"")?;
        let end = self.body[start..].find("</div>")? + start + "</div>".len();
        Some(self.body[start..end].to_owned())
    }
}

/// The `value` of the `<input>` named `name` in `html`.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\"");
    let at = html.find(&marker)?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let value_at = tag.find("value=\"")? + "value=\"".len();
    let value_end = value_at + tag[value_at..].find('"')?;
    Some(tag[value_at..value_end].to_owned())
}

/// `GET` a path of the app.
pub async fn get(client: &reqwest::Client, app: &TestApp, path: &str) -> Fetched {
    Fetched::from(client.get(app.at(path)).send().await.unwrap()).await
}

/// `POST` a form to a path of the app.
pub async fn post(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
) -> Fetched {
    Fetched::from(client.post(app.at(path)).form(form).send().await.unwrap()).await
}

/// Opens `/login{query}` and submits the form with this RUN and password, as a browser does.
pub async fn log_in(
    client: &reqwest::Client,
    app: &TestApp,
    query: &str,
    run: &str,
    password: &str,
) -> Fetched {
    let page = get(client, app, &format!("/login{query}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = page.field("csrf").expect("the login page has a CSRF token");
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("run", run),
        ("password", password),
    ];
    let req = page.field("req");
    if let Some(req) = &req {
        form.push(("req", req.as_str()));
    }
    post(client, app, "/login", &form).await
}
