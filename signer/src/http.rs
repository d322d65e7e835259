//! The signer's HTTP surface: the Cloud Signature Consortium API v2 under `/csc/v2/` (OAuth
//! 2.0 bearer tokens from clave's own token endpoint with the `sign` scope, issued to a
//! citizen's login), and the PKI publication points `/pki/{ca}.crt` and `/pki/crl/{ca}.crl`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clave_common::http::{ApiError, ApiJson, ClientAddr};
use clave_idp::accounts::Account;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::credentials::Credential;
use crate::documents::{Document, Format};
use crate::{MULTISIGN, SCOPE_SIGN, Signer, SignerError, der};

/// The OID of SHA-256, the only hash algorithm accepted.
const SHA256_OID: &str = "2.16.840.1.101.3.4.2.1";
/// The OID of ECDSA with SHA-256, the only signature algorithm.
const ECDSA_SHA256_OID: &str = "1.2.840.10045.4.3.2";
/// The OID of id-ecPublicKey, the algorithm of the credentials' keys.
const EC_PUBLIC_KEY_OID: &str = "1.2.840.10045.2.1";

/// The signer's routes.
pub fn router(signer: Signer) -> Router {
    Router::new()
        .route("/csc/v2/info", post(info).get(info))
        .route("/csc/v2/credentials/list", post(credentials_list))
        .route("/csc/v2/credentials/info", post(credentials_info))
        .route("/csc/v2/credentials/authorize", post(credentials_authorize))
        .route("/csc/v2/signatures/signHash", post(sign_hash))
        .route("/csc/v2/signatures/signDoc", post(sign_doc))
        .route("/api/sign/v1/verify", post(verify))
        .route("/tsa", post(time_stamp))
        .route("/pki/{file}", get(ca_certificate))
        .route("/pki/crl/{file}", get(crl))
        .with_state(signer.clone())
        .merge(crate::requests::http::router(signer))
}

/// The OpenAPI description of the signing API: the CSC API, verification, the TSA and the
/// published certificates and CRLs (the request API has its own, in [`crate::requests::http`]).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        info,
        credentials_list,
        credentials_info,
        credentials_authorize,
        sign_hash,
        sign_doc,
        verify,
        time_stamp,
        ca_certificate,
        crl,
    ),
    components(schemas(
        ListRequest,
        InfoRequest,
        AuthObject,
        AuthorizeRequest,
        SignHashRequest,
        DocumentToSign,
        SignDocRequest,
        VerifyRequest,
    ))
)]
pub struct ApiDoc;

/// An API failure: the JSON error with its status.
#[derive(Debug)]
pub struct Failure(ApiError);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<SignerError> for Failure {
    fn from(e: SignerError) -> Self {
        Self(match e {
            // CSC answers an unknown credential with 400 invalid_request.
            SignerError::NotFound(text) => ApiError::invalid_request(text),
            SignerError::Invalid(text) => ApiError::invalid_request(text),
            SignerError::Forbidden(text) => ApiError::forbidden("access_denied", text),
            SignerError::Conflict(text) => ApiError::conflict(text),
            SignerError::InvalidSad(text) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_sad", text)
            }
            SignerError::SecondFactor(text) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_otp", text)
            }
            SignerError::Pin(text) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_pin", text),
            SignerError::Unavailable(text) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                text,
            ),
            SignerError::Db(e) => ApiError::from(e),
            other => ApiError::internal(other),
        })
    }
}

/// The signer behind a bearer token: a citizen's token with the `sign` scope.
struct Caller {
    account: Account,
    client_id: String,
}

async fn caller(signer: &Signer, headers: &HeaderMap) -> Result<Caller, Failure> {
    let bearer = signer.idp().bearer(headers, SCOPE_SIGN).await?;
    let account_id = bearer.account_id.ok_or_else(|| {
        ApiError::forbidden(
            "access_denied",
            "signing is the signer's own act: use a token from the signer's login, not a service's",
        )
    })?;
    let account = signer
        .idp()
        .accounts()
        .get(&account_id)
        .await
        .map_err(SignerError::from)?
        .ok_or_else(|| ApiError::invalid_token("the token's account no longer exists"))?;
    Ok(Caller {
        account,
        client_id: bearer.client.client_id,
    })
}

#[utoipa::path(
    method(get, post),
    path = "/csc/v2/info",
    tag = "csc",
    responses(
        (status = 200, description = "The service's CSC description", body = Object),
    ),
)]
async fn info(State(signer): State<Signer>) -> Json<Value> {
    let base = signer.public_url();
    Json(json!({
        "specs": "2.0.0.2",
        "name": "clave",
        "logo": format!("{base}/static/logo.svg"),
        "region": "CL",
        "lang": "es-CL",
        "description": "Firma electrónica avanzada en la nube de clave",
        "authType": ["oauth2code"],
        "oauth2": base,
        "oauth2Issuer": base,
        "methods": [
            "credentials/list",
            "credentials/info",
            "credentials/authorize",
            "signatures/signHash",
            "signatures/signDoc",
        ],
        "signAlgorithms": { "algos": [ECDSA_SHA256_OID] },
        "signature_formats": {
            "formats": ["C", "J", "P"],
            "envelope_properties": [["Detached"], ["Detached"], ["Revision"]],
        },
        "conformance_levels": ["Ades-B-B", "Ades-B-T"],
    }))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct ListRequest {
    #[serde(default)]
    credential_info: bool,
    #[serde(default)]
    certificates: Option<String>,
    #[serde(default)]
    cert_info: bool,
    #[serde(default)]
    auth_info: bool,
    #[serde(default, rename = "userID")]
    user_id: Option<String>,
    #[serde(default)]
    client_data: Option<String>,
    #[serde(default)]
    max_results: Option<i64>,
    #[serde(default)]
    page_token: Option<String>,
}

#[utoipa::path(
    post,
    path = "/csc/v2/credentials/list",
    tag = "csc",
    request_body(content = Option<ListRequest>, description = "Optional: every field may be left out"),
    responses(
        (status = 200, description = "The caller's credential ids (and their details when asked)", body = Object),
        (status = 400, description = "A malformed request", body = clave_common::http::ApiErrorBody),
        (status = 401, description = "No valid bearer token (`invalid_token`), or a wrong or stale activation", body = clave_common::http::ApiErrorBody),
        (status = 403, description = "The token lacks the scope, or the credential is not the caller's", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn credentials_list(
    State(signer): State<Signer>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Failure> {
    let caller = caller(&signer, &headers).await?;
    // CSC lets the body be empty here: every field is optional.
    let request: ListRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ListRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::invalid_request(format!(
                "the JSON body does not have the expected shape: {e}"
            ))
        })?
    };
    if request.user_id.is_some() {
        return Err(ApiError::invalid_request(
            "userID must not be given: the credentials listed are the token's signer's",
        )
        .into());
    }
    let _ = (
        &request.client_data,
        request.max_results,
        &request.page_token,
        request.auth_info,
    );
    let now = signer.ctx().clock.unix();
    // A citizen's credential is made on first use, once an authenticator is enrolled.
    signer.citizen_credential(&caller.account).await?;
    let credentials: Vec<Credential> = signer
        .credentials_of(&caller.account.id)
        .await?
        .into_iter()
        .filter(|c| c.is_usable(now))
        .collect();
    let mut body = json!({
        "credentialIDs": credentials.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        "onlyValid": true,
    });
    if request.credential_info {
        let mut infos = Vec::with_capacity(credentials.len());
        for credential in &credentials {
            let mut info = credential_info_json(
                &signer,
                credential,
                request.certificates.as_deref().unwrap_or("single"),
                request.cert_info,
            )
            .await?;
            info["credentialID"] = json!(credential.id);
            infos.push(info);
        }
        body["credentialInfos"] = json!(infos);
    }
    Ok(Json(body).into_response())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct InfoRequest {
    #[serde(rename = "credentialID")]
    credential_id: String,
    #[serde(default)]
    certificates: Option<String>,
    #[serde(default)]
    cert_info: bool,
    #[serde(default)]
    auth_info: bool,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    client_data: Option<String>,
}

#[utoipa::path(
    post,
    path = "/csc/v2/credentials/info",
    tag = "csc",
    request_body = InfoRequest,
    responses(
        (status = 200, description = "One credential: key, certificate, authorization mode", body = Object),
        (status = 400, description = "A malformed request", body = clave_common::http::ApiErrorBody),
        (status = 401, description = "No valid bearer token (`invalid_token`), or a wrong or stale activation", body = clave_common::http::ApiErrorBody),
        (status = 403, description = "The token lacks the scope, or the credential is not the caller's", body = clave_common::http::ApiErrorBody),
        (status = 404, description = "No such resource", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn credentials_info(
    State(signer): State<Signer>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<InfoRequest>,
) -> Result<Response, Failure> {
    let caller = caller(&signer, &headers).await?;
    let _ = (request.auth_info, &request.lang, &request.client_data);
    let credential = own_credential(&signer, &caller, &request.credential_id).await?;
    let info = credential_info_json(
        &signer,
        &credential,
        request.certificates.as_deref().unwrap_or("single"),
        request.cert_info,
    )
    .await?;
    Ok(Json(info).into_response())
}

async fn own_credential(
    signer: &Signer,
    caller: &Caller,
    credential_id: &str,
) -> Result<Credential, Failure> {
    signer
        .credential(credential_id)
        .await?
        .filter(|c| c.account_id == caller.account.id)
        .ok_or_else(|| ApiError::invalid_request("Invalid parameter credentialID").into())
}

async fn credential_info_json(
    signer: &Signer,
    credential: &Credential,
    certificates: &str,
    cert_info: bool,
) -> Result<Value, Failure> {
    let chain = signer.chain(credential).await?;
    let listed: Vec<String> = match certificates {
        "none" => Vec::new(),
        "single" => vec![STANDARD.encode(&credential.cert_der)],
        "chain" => chain.iter().map(|c| STANDARD.encode(c)).collect(),
        _ => {
            return Err(ApiError::invalid_request(
                "certificates must be `none`, `single` or `chain`",
            )
            .into());
        }
    };
    let now = signer.ctx().clock.unix();
    let status = if credential.status == "revoked" {
        "revoked"
    } else if now >= credential.not_after {
        "expired"
    } else if now < credential.not_before {
        "suspended"
    } else {
        "valid"
    };
    let mut cert = json!({ "status": status, "certificates": listed });
    if cert_info {
        let fields = der::cert_fields(&credential.cert_der)
            .map_err(|e| SignerError::Internal(format!("stored certificate: {e}")))?;
        cert["serialNumber"] = json!(credential.serial);
        cert["issuerDN"] = json!(STANDARD.encode(&fields.issuer));
        cert["subjectDN"] = json!(STANDARD.encode(&fields.subject));
        cert["validFrom"] = json!(generalized(credential.not_before));
        cert["validTo"] = json!(generalized(credential.not_after));
    }
    let otp = json!({
        "type": "Password",
        "id": "otp",
        "format": "N",
        "label": "Código de su aplicación de autenticación",
        "description": "Six-digit one-time code from the signer's authenticator app",
    });
    let auth = if credential.pin_protected {
        json!({
            "mode": "explicit",
            "expression": "PIN AND OTP",
            "objects": [{
                "type": "Password",
                "id": "PIN",
                "format": "N",
                "label": "PIN de firma",
                "description": "The signer's signing PIN",
            }, otp],
        })
    } else {
        json!({ "mode": "explicit", "expression": "OTP", "objects": [otp] })
    };
    Ok(json!({
        "description": "Firma electrónica avanzada",
        "signatureQualifier": "eu_eidas_aes",
        "key": {
            "status": if credential.status == "valid" { "enabled" } else { "disabled" },
            "algo": [EC_PUBLIC_KEY_OID],
            "len": 256,
            "curve": "1.2.840.10045.3.1.7",
        },
        "cert": cert,
        "auth": auth,
        // The CSC v1 names, which many clients still read.
        "authMode": "explicit",
        "PIN": {
            "presence": if credential.pin_protected { "true" } else { "false" },
            "format": "N",
            "label": "PIN de firma",
            "description": "The signer's signing PIN",
        },
        "OTP": {
            "presence": "true",
            "type": "offline",
            "format": "N",
            "label": "Código de su aplicación de autenticación",
            "description": "Six-digit one-time code from the signer's authenticator app",
        },
        "SCAL": "2",
        "multisign": MULTISIGN,
        "lang": "es-CL",
    }))
}

/// A time as the GeneralizedTime text CSC uses (`YYYYMMDDHHMMSSZ`).
fn generalized(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year][month][day][hour][minute][second]Z"
            ))
            .ok()
        })
        .unwrap_or_default()
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct AuthObject {
    id: String,
    value: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct AuthorizeRequest {
    #[serde(rename = "credentialID")]
    credential_id: String,
    num_signatures: i64,
    #[serde(default)]
    hashes: Vec<String>,
    #[serde(default, rename = "hashAlgorithmOID")]
    hash_algorithm_oid: Option<String>,
    #[serde(default)]
    auth_data: Vec<AuthObject>,
    /// The signing PIN as CSC v1 sends it; v2 clients send it in `authData` with id `PIN`.
    #[serde(default, rename = "PIN")]
    pin: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    client_data: Option<String>,
}

fn decode_hashes(hashes: &[String]) -> Result<Vec<Vec<u8>>, Failure> {
    hashes
        .iter()
        .map(|h| {
            STANDARD
                .decode(h.trim())
                .ok()
                .filter(|b| b.len() == 32)
                .ok_or_else(|| {
                    ApiError::invalid_request(
                        "hashes: each must be the base64 of a SHA-256 hash (32 bytes)",
                    )
                    .into()
                })
        })
        .collect()
}

fn check_hash_algorithm(oid: Option<&str>) -> Result<(), Failure> {
    match oid {
        None | Some(SHA256_OID) => Ok(()),
        Some(other) => Err(ApiError::invalid_request(format!(
            "hashAlgorithmOID {other} is not supported; use SHA-256 ({SHA256_OID})"
        ))
        .into()),
    }
}

#[utoipa::path(
    post,
    path = "/csc/v2/credentials/authorize",
    tag = "csc",
    request_body = AuthorizeRequest,
    responses(
        (status = 200, description = "The signature activation data (SAD) and its lifetime", body = Object),
        (status = 400, description = "A malformed request", body = clave_common::http::ApiErrorBody),
        (status = 401, description = "No valid bearer token (`invalid_token`), or a wrong or stale activation", body = clave_common::http::ApiErrorBody),
        (status = 403, description = "The token lacks the scope, or the credential is not the caller's", body = clave_common::http::ApiErrorBody),
        (status = 404, description = "No such resource", body = clave_common::http::ApiErrorBody),
        (status = 429, description = "Too many failed activations; wait", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn credentials_authorize(
    State(signer): State<Signer>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    ApiJson(request): ApiJson<AuthorizeRequest>,
) -> Result<Response, Failure> {
    let caller = caller(&signer, &headers).await?;
    let _ = (&request.description, &request.client_data);
    check_hash_algorithm(request.hash_algorithm_oid.as_deref())?;
    let hashes = decode_hashes(&request.hashes)?;
    let otp = request
        .auth_data
        .iter()
        .find(|a| a.id == "otp")
        .map(|a| a.value.as_str())
        .unwrap_or_default();
    let pin = request
        .auth_data
        .iter()
        .find(|a| a.id.eq_ignore_ascii_case("pin"))
        .map(|a| a.value.as_str())
        .or(request.pin.as_deref());
    let activation = signer
        .authorize(crate::activation::ActivationRequest {
            account: &caller.account,
            client_id: &caller.client_id,
            credential_id: &request.credential_id,
            hashes,
            num_signatures: request.num_signatures,
            factor: crate::activation::Factor::Otp(otp),
            pin,
            addr,
        })
        .await?;
    Ok(Json(json!({ "SAD": activation.sad, "expiresIn": activation.expires_in })).into_response())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct SignHashRequest {
    #[serde(rename = "credentialID")]
    credential_id: String,
    #[serde(rename = "SAD")]
    sad: String,
    hashes: Vec<String>,
    #[serde(default, rename = "hashAlgorithmOID")]
    hash_algorithm_oid: Option<String>,
    sign_algo: String,
    #[serde(default)]
    sign_algo_params: Option<String>,
    #[serde(default)]
    operation_mode: Option<String>,
    #[serde(default)]
    client_data: Option<String>,
}

fn check_sign_algo(algo: &str) -> Result<(), Failure> {
    if algo == ECDSA_SHA256_OID || algo == EC_PUBLIC_KEY_OID {
        Ok(())
    } else {
        Err(ApiError::invalid_request(format!(
            "signAlgo {algo} is not supported; use ECDSA with SHA-256 ({ECDSA_SHA256_OID})"
        ))
        .into())
    }
}

#[utoipa::path(
    post,
    path = "/csc/v2/signatures/signHash",
    tag = "csc",
    request_body = SignHashRequest,
    responses(
        (status = 200, description = "The signatures, base64, in the order of the hashes", body = Object),
        (status = 400, description = "A malformed request", body = clave_common::http::ApiErrorBody),
        (status = 401, description = "No valid bearer token (`invalid_token`), or a wrong or stale activation", body = clave_common::http::ApiErrorBody),
        (status = 403, description = "The token lacks the scope, or the credential is not the caller's", body = clave_common::http::ApiErrorBody),
        (status = 404, description = "No such resource", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn sign_hash(
    State(signer): State<Signer>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<SignHashRequest>,
) -> Result<Response, Failure> {
    let caller = caller(&signer, &headers).await?;
    let _ = (&request.sign_algo_params, &request.client_data);
    if request.operation_mode.as_deref().is_some_and(|m| m != "S") {
        return Err(ApiError::invalid_request(
            "only synchronous operation (operationMode `S`) is offered",
        )
        .into());
    }
    check_sign_algo(&request.sign_algo)?;
    check_hash_algorithm(request.hash_algorithm_oid.as_deref())?;
    if request.hashes.is_empty() {
        return Err(ApiError::invalid_request("hashes: name at least one hash to sign").into());
    }
    let hashes = decode_hashes(&request.hashes)?;
    own_credential(&signer, &caller, &request.credential_id).await?;
    let signatures = signer
        .sign_hashes(
            &request.sad,
            &caller.account.id,
            &request.credential_id,
            &hashes,
        )
        .await?;
    Ok(Json(json!({
        "signatures": signatures.iter().map(|s| STANDARD.encode(s)).collect::<Vec<_>>(),
    }))
    .into_response())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct DocumentToSign {
    document: String,
    signature_format: String,
    #[serde(default)]
    conformance_level: Option<String>,
    #[serde(default, rename = "signAlgo")]
    sign_algo: Option<String>,
    #[serde(default)]
    signed_envelope_property: Option<String>,
    /// clave's addition: the document's name, as JAdES names it in `sigD`.
    #[serde(default)]
    name: Option<String>,
    /// clave's addition: the document's media type.
    #[serde(default)]
    media_type: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct SignDocRequest {
    #[serde(rename = "credentialID")]
    credential_id: String,
    #[serde(rename = "SAD")]
    sad: String,
    documents: Vec<DocumentToSign>,
    #[serde(default)]
    operation_mode: Option<String>,
    #[serde(default)]
    client_data: Option<String>,
}

/// The largest document signDoc takes, decoded.
const MAX_DOCUMENT_BYTES: usize = 20 * 1024 * 1024;

#[utoipa::path(
    post,
    path = "/csc/v2/signatures/signDoc",
    tag = "csc",
    request_body = SignDocRequest,
    responses(
        (status = 200, description = "The signed documents or detached signatures", body = Object),
        (status = 400, description = "A malformed request", body = clave_common::http::ApiErrorBody),
        (status = 401, description = "No valid bearer token (`invalid_token`), or a wrong or stale activation", body = clave_common::http::ApiErrorBody),
        (status = 403, description = "The token lacks the scope, or the credential is not the caller's", body = clave_common::http::ApiErrorBody),
        (status = 404, description = "No such resource", body = clave_common::http::ApiErrorBody),
        (status = 413, description = "Too large", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn sign_doc(
    State(signer): State<Signer>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<SignDocRequest>,
) -> Result<Response, Failure> {
    let caller = caller(&signer, &headers).await?;
    let _ = &request.client_data;
    if request.operation_mode.as_deref().is_some_and(|m| m != "S") {
        return Err(ApiError::invalid_request(
            "only synchronous operation (operationMode `S`) is offered",
        )
        .into());
    }
    if request.documents.is_empty() {
        return Err(ApiError::invalid_request("documents: name at least one document").into());
    }
    own_credential(&signer, &caller, &request.credential_id).await?;
    let mut signatures = Vec::with_capacity(request.documents.len());
    let mut signed_documents = Vec::new();
    for (i, doc) in request.documents.iter().enumerate() {
        let format = Format::from_csc(&doc.signature_format).ok_or_else(|| {
            ApiError::invalid_request(format!(
                "documents[{i}].signature_format {:?} is not offered; use C (CAdES), J (JAdES) or P (PAdES)",
                doc.signature_format
            ))
        })?;
        let time_stamped = match doc.conformance_level.as_deref() {
            None | Some("Ades-B-B" | "AdES-B-B") => false,
            Some("Ades-B-T" | "AdES-B-T") if format != Format::Jades => true,
            Some(level) => {
                return Err(ApiError::invalid_request(format!(
                    "documents[{i}].conformance_level {level:?} is not offered for this \
                     format; use Ades-B-B, or Ades-B-T for CAdES and PAdES"
                ))
                .into());
            }
        };
        let envelope_ok = match (format, doc.signed_envelope_property.as_deref()) {
            (_, None) => true,
            (Format::Pades, Some(e)) => e == "Certification" || e == "Revision",
            (_, Some(e)) => e == "Detached",
        };
        if let Some(envelope) = doc.signed_envelope_property.as_deref()
            && !envelope_ok
        {
            return Err(ApiError::invalid_request(format!(
                "documents[{i}].signed_envelope_property {envelope:?} is not offered; use Detached (C, J) or Revision (P)"
            ))
            .into());
        }
        if let Some(algo) = doc.sign_algo.as_deref() {
            check_sign_algo(algo)?;
        }
        let bytes = STANDARD.decode(doc.document.trim()).map_err(|_| {
            ApiError::invalid_request(format!("documents[{i}].document is not valid base64"))
        })?;
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(ApiError::invalid_request(format!(
                "documents[{i}] is larger than {MAX_DOCUMENT_BYTES} bytes"
            ))
            .into());
        }
        let signature = signer
            .sign_document(
                &request.sad,
                &caller.account.id,
                &request.credential_id,
                Document {
                    bytes: &bytes,
                    name: doc.name.as_deref().unwrap_or("document"),
                    media_type: doc
                        .media_type
                        .as_deref()
                        .unwrap_or("application/octet-stream"),
                },
                format,
                time_stamped,
            )
            .await?;
        if format == Format::Pades {
            signed_documents.push(STANDARD.encode(signature));
        } else {
            signatures.push(STANDARD.encode(signature));
        }
    }
    Ok(Json(json!({
        "DocumentWithSignature": signed_documents,
        "SignatureObject": signatures,
    }))
    .into_response())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    /// The signed document, base64.
    document: String,
    /// The detached signature (CAdES DER or JAdES JSON), base64; none for a signed PDF.
    #[serde(default)]
    signature: Option<String>,
}

/// Verifies a detached signature over a document, or the signatures inside a PDF; open to
/// anyone who holds them.
#[utoipa::path(
    post,
    path = "/api/sign/v1/verify",
    tag = "signing",
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "A report per signature found", body = Object),
        (status = 400, description = "A malformed request", body = clave_common::http::ApiErrorBody),
        (status = 413, description = "Too large", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
)]
async fn verify(
    State(signer): State<Signer>,
    ApiJson(request): ApiJson<VerifyRequest>,
) -> Result<Response, Failure> {
    let document = STANDARD
        .decode(request.document.trim())
        .map_err(|_| ApiError::invalid_request("document is not valid base64"))?;
    let reports = match request.signature {
        Some(signature) => {
            let signature = STANDARD
                .decode(signature.trim())
                .map_err(|_| ApiError::invalid_request("signature is not valid base64"))?;
            vec![signer.verify_detached(&document, &signature).await?]
        }
        None => signer.verify_pdf(&document).await?,
    };
    Ok(Json(json!({ "signatures": reports })).into_response())
}

/// RFC 3161 over HTTP: a DER TimeStampReq in, a TimeStampResp out. A request clave cannot
/// serve gets a rejection response (status 2), as the protocol expects, with a 400.
#[utoipa::path(
    post,
    path = "/tsa",
    tag = "pki",
    request_body(content = Vec<u8>, content_type = "application/timestamp-query", description = "A DER TimeStampReq (RFC 3161 §2.4.1)"),
    responses(
        (status = 200, description = "A DER TimeStampResp (RFC 3161 §2.4.2) granting the time-stamp", content_type = "application/timestamp-reply", body = Vec<u8>),
        (status = 400, description = "A DER TimeStampResp rejecting a malformed request (status 2)", content_type = "application/timestamp-reply", body = Vec<u8>),
        (status = 415, description = "Not the media type expected", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
)]
async fn time_stamp(
    State(signer): State<Signer>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Failure> {
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let reply = |status: StatusCode, der: Vec<u8>| {
        (
            status,
            [(header::CONTENT_TYPE, "application/timestamp-reply")],
            der,
        )
            .into_response()
    };
    if kind != "application/timestamp-query" {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
            "send a DER TimeStampReq with Content-Type: application/timestamp-query",
        )
        .into());
    }
    let request = match crate::tsa::parse_request(&body) {
        Ok(request) => request,
        Err(SignerError::Invalid(text)) => {
            return Ok(reply(StatusCode::BAD_REQUEST, crate::tsa::rejection(&text)));
        }
        Err(e) => return Err(e.into()),
    };
    let token = signer
        .time_stamp(&request.imprint, request.nonce.as_deref(), request.cert_req)
        .await?;
    Ok(reply(StatusCode::OK, crate::tsa::response(&token)))
}

#[utoipa::path(
    get,
    path = "/pki/{file}",
    tag = "pki",
    params(("file" = String, Path, description = "`{ca}.crt` or `{ca}.pem`")),
    responses(
        (status = 200, description = "The certificate of a CA (or of the TSA) as DER (`{ca}.crt`) or PEM (`{ca}.pem`)", content(
            (Vec<u8> = "application/pkix-cert"),
            (String = "application/x-pem-file"),
        )),
        (status = 404, description = "No such resource", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
)]
async fn ca_certificate(
    State(signer): State<Signer>,
    Path(file): Path<String>,
) -> Result<Response, Failure> {
    let (id, pem) = match (file.strip_suffix(".crt"), file.strip_suffix(".pem")) {
        (Some(id), _) => (id, false),
        (_, Some(id)) => (id, true),
        _ => {
            return Err(ApiError::not_found(
                "CA certificates are at /pki/{ca}.crt (DER) or /pki/{ca}.pem",
            )
            .into());
        }
    };
    let cert_der = if id == crate::tsa::TSA {
        signer.tsa_certificate().await?
    } else {
        signer.ca(id).await?.map(|ca| ca.cert_der)
    }
    .ok_or_else(|| ApiError::not_found(format!("no certificate authority {id:?}")))?;
    Ok(if pem {
        (
            [(header::CONTENT_TYPE, "application/x-pem-file")],
            pem_block("CERTIFICATE", &cert_der),
        )
            .into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/pkix-cert")], cert_der).into_response()
    })
}

#[utoipa::path(
    get,
    path = "/pki/crl/{file}",
    tag = "pki",
    params(("file" = String, Path, description = "`{ca}.crl`")),
    responses(
        (status = 200, description = "The CA's current CRL, DER", content_type = "application/pkix-crl", body = Vec<u8>),
        (status = 404, description = "No such resource", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
)]
async fn crl(State(signer): State<Signer>, Path(file): Path<String>) -> Result<Response, Failure> {
    let id = file
        .strip_suffix(".crl")
        .ok_or_else(|| ApiError::not_found("CRLs are at /pki/crl/{ca}.crl"))?;
    let crl = signer
        .current_crl(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no CRL for {id:?}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pkix-crl".to_owned()),
            (header::CACHE_CONTROL, "public, max-age=300".to_owned()),
        ],
        crl.der,
    )
        .into_response())
}

/// `der` as a PEM block labelled `label`.
pub fn pem_block(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
