//! Bulk import of attribute values from a JSON Lines file (one [`Publication`] per line), for
//! migrations: lines are parsed one by one, published in chunks as one source, and every
//! rejected line is reported with its line number and the reason.

use std::io::BufRead;

use serde::Serialize;

use crate::publish::Publication;
use crate::{Wallet, WalletError};

/// Lines published per transaction.
pub const CHUNK: usize = 500;
/// The longest line accepted, in bytes.
pub const MAX_LINE: usize = 64 * 1024;

/// Reads one line of an import file. Blank lines and lines starting with `#` are skipped
/// (`Ok(None)`).
pub fn parse_line(line: &str) -> Result<Option<Publication>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    if line.len() > MAX_LINE {
        return Err(format!("the line is longer than {MAX_LINE} bytes"));
    }
    serde_json::from_str(line).map(Some).map_err(|e| {
        format!("not a publication ({e}); expected {{\"run\": …, \"attribute\": …, \"value\": …}}")
    })
}

/// A rejected line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineError {
    /// The line number, from 1.
    pub line: usize,
    /// Why.
    pub error: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// Lines read (blank and comment lines included).
    pub lines: usize,
    /// Values written.
    pub written: usize,
    /// Values already current.
    pub unchanged: usize,
    /// Accounts created for citizens the registry published.
    pub citizens_created: usize,
    /// Lines rejected, with reasons.
    pub errors: Vec<LineError>,
}

impl Wallet {
    /// Imports `input` as source `client_id`, calling `progress` with the lines read so far
    /// after each chunk.
    pub async fn import(
        &self,
        client_id: &str,
        input: impl BufRead,
        mut progress: impl FnMut(&ImportSummary),
    ) -> Result<ImportSummary, WalletError> {
        let mut summary = ImportSummary::default();
        let mut chunk: Vec<(usize, Publication)> = Vec::with_capacity(CHUNK);
        for (number, line) in input.lines().enumerate() {
            let number = number + 1;
            summary.lines = number;
            let line = match line {
                Ok(line) => line,
                Err(e) => {
                    summary.errors.push(LineError {
                        line: number,
                        error: format!("unreadable line: {e}"),
                    });
                    continue;
                }
            };
            match parse_line(&line) {
                Ok(Some(item)) => chunk.push((number, item)),
                Ok(None) => {}
                Err(error) => summary.errors.push(LineError {
                    line: number,
                    error,
                }),
            }
            if chunk.len() == CHUNK {
                self.import_chunk(client_id, &mut chunk, &mut summary)
                    .await?;
                progress(&summary);
            }
        }
        self.import_chunk(client_id, &mut chunk, &mut summary)
            .await?;
        progress(&summary);
        summary.errors.sort_by_key(|e| e.line);
        Ok(summary)
    }

    async fn import_chunk(
        &self,
        client_id: &str,
        chunk: &mut Vec<(usize, Publication)>,
        summary: &mut ImportSummary,
    ) -> Result<(), WalletError> {
        if chunk.is_empty() {
            return Ok(());
        }
        let (numbers, items): (Vec<usize>, Vec<Result<Publication, String>>) =
            chunk.drain(..).map(|(n, item)| (n, Ok(item))).unzip();
        let report = self.publish(client_id, items).await?;
        summary.written += report.written;
        summary.unchanged += report.unchanged;
        summary.citizens_created += report.citizens_created;
        for result in report.results {
            if let Some(text) = result.error_description {
                summary.errors.push(LineError {
                    line: numbers[result.index],
                    error: text,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_or_say_why_not() {
        assert!(parse_line("").unwrap().is_none());
        assert!(parse_line("  # a comment").unwrap().is_none());
        let item = parse_line(r#"{"run": "12.345.678-5", "attribute": "sex", "value": "F"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(item.attribute, "sex");
        let err = parse_line(r#"{"run": "1-9", "attribute": "sex"}"#).unwrap_err();
        assert!(err.contains("value"), "{err}");
        assert!(parse_line("not json").is_err());
        assert!(parse_line(r#"{"run": "1-9", "attribute": "a", "value": 1, "extra": 2}"#).is_err());
        assert!(parse_line(&format!("\"{}\"", "x".repeat(MAX_LINE))).is_err());
    }
}
