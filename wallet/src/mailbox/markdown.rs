//! The safe Markdown subset notices may use, rendered to HTML that cannot carry markup from
//! the sender: everything is escaped first, and only these constructs become tags:
//! paragraphs (blank lines), line breaks, `#`/`##`/`###` headings, `- ` or `* ` lists,
//! `**strong**`, `*emphasis*` and `[text](https://…)` links (or links to clave's own pages, `/…`).

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn blocks(text: &str) -> Vec<Vec<&str>> {
    let mut blocks = Vec::new();
    let mut current = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                blocks.push(std::mem::take(&mut current));
            }
        } else {
            current.push(line.trim_end());
        }
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    blocks
}

/// Plain text as HTML: escaped, paragraphs at blank lines, line breaks kept.
pub fn text_to_html(text: &str) -> String {
    blocks(text)
        .iter()
        .map(|lines| {
            let inner: Vec<String> = lines.iter().map(|l| escape(l)).collect();
            format!("<p>{}</p>", inner.join("<br>\n"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The Markdown subset as HTML.
pub fn to_html(text: &str) -> String {
    let mut out = Vec::new();
    for lines in blocks(text) {
        let mut rest: &[&str] = &lines;
        if let Some(first) = rest.first() {
            let heading = [("### ", "h4"), ("## ", "h3"), ("# ", "h2")]
                .into_iter()
                .find(|(mark, _)| first.starts_with(mark));
            if let Some((mark, tag)) = heading {
                out.push(format!(
                    "<{tag}>{}</{tag}>",
                    inline(first[mark.len()..].trim())
                ));
                rest = &rest[1..];
            }
        }
        if rest.is_empty() {
            continue;
        }
        let is_item = |l: &&str| l.starts_with("- ") || l.starts_with("* ");
        if rest.iter().all(is_item) {
            let items: Vec<String> = rest
                .iter()
                .map(|l| format!("<li>{}</li>", inline(l[2..].trim())))
                .collect();
            out.push(format!("<ul>{}</ul>", items.join("")));
        } else {
            let inner: Vec<String> = rest.iter().map(|l| inline(l)).collect();
            out.push(format!("<p>{}</p>", inner.join("<br>\n")));
        }
    }
    out.join("\n")
}

/// One line: escaped, then strong, emphasis and https links.
fn inline(line: &str) -> String {
    let escaped = escape(line);
    let linked = links(&escaped);
    let strong = pairs(&linked, "**", "strong");
    pairs(&strong, "*", "em")
}

/// Replaces `[text](https://…)` in already escaped text.
fn links(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let parsed = after.find("](").and_then(|close| {
            let label = &after[..close];
            let target = &after[close + 2..];
            let end = target.find(')')?;
            let url = &target[..end];
            let ok = (url.starts_with("https://")
                || (url.starts_with('/') && !url.starts_with("//")))
                && !url.contains(char::is_whitespace)
                && !url.contains('*')
                && !label.is_empty()
                && !label.contains('[');
            ok.then(|| (label, url, open + 1 + close + 2 + end + 1))
        });
        match parsed {
            Some((label, url, consumed)) => {
                out.push_str(&rest[..open]);
                out.push_str(&format!(
                    "<a href=\"{url}\" rel=\"noopener noreferrer nofollow\">{label}</a>"
                ));
                rest = &rest[consumed..];
            }
            None => {
                out.push_str(&rest[..=open]);
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Wraps text between pairs of `mark` in `tag`; an unpaired mark stays as it is.
fn pairs(text: &str, mark: &str, tag: &str) -> String {
    let parts: Vec<&str> = text.split(mark).collect();
    if parts.len() < 3 {
        return text.to_owned();
    }
    let mut out = String::new();
    let paired = if parts.len() % 2 == 1 {
        parts.len()
    } else {
        parts.len() - 1
    };
    for (i, part) in parts.iter().enumerate().take(paired) {
        if i % 2 == 1 && !part.is_empty() && !part.contains('<') {
            out.push_str(&format!("<{tag}>{part}</{tag}>"));
        } else if i % 2 == 1 {
            out.push_str(mark);
            out.push_str(part);
            out.push_str(mark);
        } else {
            out.push_str(part);
        }
    }
    for part in &parts[paired..] {
        out.push_str(mark);
        out.push_str(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_never_survives() {
        let html = to_html("<script>alert(1)</script> **<b>x</b>** [a](javascript:alert(1))");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(!html.contains("href=\"javascript"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn the_subset_renders() {
        let html = to_html(
            "# Resolución\n\nSu solicitud fue **aprobada**, *felicidades*.\nVer [el detalle](https://sii.example/a?b=1&c=2).\n\n- uno\n- dos",
        );
        assert!(html.contains("<h2>Resolución</h2>"), "{html}");
        assert!(html.contains("<strong>aprobada</strong>"), "{html}");
        assert!(html.contains("<em>felicidades</em>"), "{html}");
        assert!(
            html.contains("<a href=\"https://sii.example/a?b=1&amp;c=2\" rel=\"noopener noreferrer nofollow\">el detalle</a>"),
            "{html}"
        );
        assert!(html.contains("<ul><li>uno</li><li>dos</li></ul>"), "{html}");
        assert!(html.contains("<br>"), "{html}");
    }

    #[test]
    fn a_quote_cannot_leave_the_link_attribute() {
        let html = to_html("[x](https://a.example/\"onmouseover=\"alert(1))");
        assert!(!html.contains("\"onmouseover"), "{html}");
    }

    #[test]
    fn only_https_and_own_pages_are_linked() {
        assert!(to_html("[a](/me/security)").contains("href=\"/me/security\""));
        assert!(!to_html("[a](//evil.example/)").contains("href"));
        assert!(!to_html("[a](http://plain.example/)").contains("href"));
    }

    #[test]
    fn unpaired_marks_stay_text() {
        assert_eq!(to_html("3 * 4 = 12"), "<p>3 * 4 = 12</p>");
        assert_eq!(text_to_html("a <b>\n\nc"), "<p>a &lt;b&gt;</p>\n<p>c</p>");
    }
}
