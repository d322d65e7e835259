//! PAdES baseline B-B and B-T (ETSI EN 319 142-1): a CAdES detached signature embedded in the
//! PDF as an incremental update, so earlier revisions and earlier signatures stay intact.
//! [`prepare`] appends an invisible signature field whose `/Contents` is a zeroed
//! placeholder and fixes `/ByteRange` to cover everything else; [`embed`] writes the CMS
//! into the placeholder.

use lopdf::{Dictionary, Document, IncrementalDocument, Object, ObjectId, StringFormat};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::SignerError;

/// Bytes reserved for the CMS (hex-encoded twice as many in the file).
pub const CONTENTS_BYTES: usize = 16 * 1024;
const PLACEHOLDER_RANGE: &[u8] = b"[0 9999999999 9999999999 9999999999]";

/// A PDF with a signature placeholder, ready for its CMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The whole file, placeholder included.
    pub bytes: Vec<u8>,
    /// Where the `<…>` hex string of `/Contents` starts and ends (exclusive).
    pub contents: (usize, usize),
    /// SHA-256 of the bytes the signature covers (everything but `/Contents`).
    pub digest: Vec<u8>,
}

fn bad_pdf(e: impl std::fmt::Display) -> SignerError {
    SignerError::Invalid(format!("the document is not a PDF clave can sign: {e}"))
}

fn pdf_date(at: OffsetDateTime) -> String {
    format!(
        "D:{:04}{:02}{:02}{:02}{:02}{:02}+00'00'",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

fn last_position(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// Appends the signature field to `pdf` and returns the bytes to sign.
pub fn prepare(pdf: &[u8], at: OffsetDateTime) -> Result<Prepared, SignerError> {
    let previous = Document::load_mem(pdf).map_err(bad_pdf)?;
    if previous.is_encrypted() {
        return Err(bad_pdf("it is encrypted"));
    }
    let root_id = previous
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .map_err(bad_pdf)?;
    let page_id = *previous
        .get_pages()
        .values()
        .next()
        .ok_or_else(|| bad_pdf("it has no pages"))?;
    let existing_fields = previous
        .get_dictionary(root_id)
        .ok()
        .and_then(|root| root.get(b"AcroForm").ok())
        .and_then(|form| match form {
            Object::Reference(id) => previous.get_dictionary(*id).ok(),
            Object::Dictionary(d) => Some(d),
            _ => None,
        })
        .and_then(|form| form.get(b"Fields").ok())
        .and_then(|fields| fields.as_array().ok())
        .map_or(0, Vec::len);
    let mut update = IncrementalDocument::create_from(pdf.to_vec(), previous);
    update
        .opt_clone_object_to_new_document(root_id)
        .map_err(bad_pdf)?;
    update
        .opt_clone_object_to_new_document(page_id)
        .map_err(bad_pdf)?;
    let doc = &mut update.new_document;

    let mut signature = Dictionary::new();
    signature.set("Type", Object::Name(b"Sig".to_vec()));
    signature.set("Filter", Object::Name(b"Adobe.PPKLite".to_vec()));
    signature.set("SubFilter", Object::Name(b"ETSI.CAdES.detached".to_vec()));
    signature.set(
        "ByteRange",
        Object::Array(vec![
            Object::Integer(0),
            Object::Integer(9_999_999_999),
            Object::Integer(9_999_999_999),
            Object::Integer(9_999_999_999),
        ]),
    );
    signature.set(
        "Contents",
        Object::String(vec![0; CONTENTS_BYTES], StringFormat::Hexadecimal),
    );
    signature.set("M", Object::string_literal(pdf_date(at)));
    let signature_id = doc.add_object(Object::Dictionary(signature));

    let mut widget = Dictionary::new();
    widget.set("Type", Object::Name(b"Annot".to_vec()));
    widget.set("Subtype", Object::Name(b"Widget".to_vec()));
    widget.set("FT", Object::Name(b"Sig".to_vec()));
    widget.set(
        "T",
        Object::string_literal(format!("Firma{}", existing_fields + 1)),
    );
    widget.set("V", Object::Reference(signature_id));
    widget.set(
        "Rect",
        Object::Array(vec![0.into(), 0.into(), 0.into(), 0.into()]),
    );
    widget.set("F", Object::Integer(132));
    widget.set("P", Object::Reference(page_id));
    let widget_id = doc.add_object(Object::Dictionary(widget));

    add_annotation(&mut update, page_id, widget_id)?;
    add_field(&mut update, root_id, widget_id)?;

    let mut bytes = Vec::with_capacity(pdf.len() + 2 * CONTENTS_BYTES + 4096);
    update.save_to(&mut bytes).map_err(bad_pdf)?;
    let update_start = pdf.len();
    let placeholder = [b"<".as_slice(), &vec![b'0'; 2 * CONTENTS_BYTES], b">"].concat();
    let start = last_position(&bytes[update_start..], &placeholder)
        .map(|p| p + update_start)
        .ok_or_else(|| SignerError::Internal("signature placeholder not written".into()))?;
    let end = start + placeholder.len();
    let range_at = last_position(&bytes[update_start..], PLACEHOLDER_RANGE)
        .map(|p| p + update_start)
        .ok_or_else(|| SignerError::Internal("byte range placeholder not written".into()))?;
    let range = format!("[0 {start} {end} {}]", bytes.len() - end);
    let mut padded = range.into_bytes();
    padded.resize(PLACEHOLDER_RANGE.len(), b' ');
    bytes[range_at..range_at + PLACEHOLDER_RANGE.len()].copy_from_slice(&padded);
    let mut hasher = Sha256::new();
    hasher.update(&bytes[..start]);
    hasher.update(&bytes[end..]);
    Ok(Prepared {
        digest: hasher.finalize().to_vec(),
        bytes,
        contents: (start, end),
    })
}

fn add_annotation(
    update: &mut IncrementalDocument,
    page_id: ObjectId,
    widget_id: ObjectId,
) -> Result<(), SignerError> {
    let annots = update
        .new_document
        .get_dictionary(page_id)
        .map_err(bad_pdf)?
        .get(b"Annots")
        .ok()
        .cloned();
    let list = match annots {
        Some(Object::Reference(id)) => {
            update
                .opt_clone_object_to_new_document(id)
                .map_err(bad_pdf)?;
            let array = update
                .new_document
                .get_object_mut(id)
                .and_then(Object::as_array_mut)
                .map_err(bad_pdf)?;
            array.push(Object::Reference(widget_id));
            return Ok(());
        }
        Some(Object::Array(mut items)) => {
            items.push(Object::Reference(widget_id));
            items
        }
        _ => vec![Object::Reference(widget_id)],
    };
    update
        .new_document
        .get_dictionary_mut(page_id)
        .map_err(bad_pdf)?
        .set("Annots", Object::Array(list));
    Ok(())
}

fn add_field(
    update: &mut IncrementalDocument,
    root_id: ObjectId,
    widget_id: ObjectId,
) -> Result<(), SignerError> {
    let form = update
        .new_document
        .get_dictionary(root_id)
        .map_err(bad_pdf)?
        .get(b"AcroForm")
        .ok()
        .cloned();
    let form_id = match form {
        Some(Object::Reference(id)) => {
            update
                .opt_clone_object_to_new_document(id)
                .map_err(bad_pdf)?;
            id
        }
        other => {
            let dict = match other {
                Some(Object::Dictionary(d)) => d,
                _ => Dictionary::new(),
            };
            let id = update.new_document.add_object(Object::Dictionary(dict));
            update
                .new_document
                .get_dictionary_mut(root_id)
                .map_err(bad_pdf)?
                .set("AcroForm", Object::Reference(id));
            id
        }
    };
    let form = update
        .new_document
        .get_dictionary_mut(form_id)
        .map_err(bad_pdf)?;
    let mut fields = match form.get(b"Fields") {
        Ok(Object::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    fields.push(Object::Reference(widget_id));
    form.set("Fields", Object::Array(fields));
    form.set("SigFlags", Object::Integer(3));
    Ok(())
}

/// Writes `cms` into the prepared placeholder; the signed PDF.
pub fn embed(prepared: Prepared, cms: &[u8]) -> Result<Vec<u8>, SignerError> {
    if cms.len() > CONTENTS_BYTES {
        return Err(SignerError::Internal(format!(
            "the signature ({} bytes) does not fit the {CONTENTS_BYTES}-byte placeholder",
            cms.len()
        )));
    }
    let mut bytes = prepared.bytes;
    let hex = hex::encode_upper(cms);
    let (start, _) = prepared.contents;
    bytes[start + 1..start + 1 + hex.len()].copy_from_slice(hex.as_bytes());
    Ok(bytes)
}
