//! clave-signer will own the deployment's certificate authorities, signing credentials,
//! signature activation, the PAdES / CAdES / JAdES formats and their verification.
