//! Front matter: YAML between `---` lines or TOML between `+++` lines at the top of an article.
//!
//! Known fields (`title`, `url`, `publisher`, `published`) fill [`ArticleMeta`]; others are kept as
//! text in `extra`. Broken front matter is reported with its line and ignored: the article is still
//! read, with its title taken from its first heading.

use super::ArticleMeta;
use yaml_rust2::{Yaml, YamlLoader};

/// Splits front matter from the body. Returns the metadata (None when absent or unreadable), the body,
/// and the 1-based line number where the body starts.
pub(super) fn split<'a>(
    text: &'a str,
    warn: &mut dyn FnMut(usize, String),
) -> (Option<ArticleMeta>, &'a str, usize) {
    let fence = if text.starts_with("---\n") || text.starts_with("---\r\n") {
        "---"
    } else if text.starts_with("+++\n") || text.starts_with("+++\r\n") {
        "+++"
    } else {
        return (None, text, 1);
    };
    let first_nl = text.find('\n').unwrap_or(text.len());
    let rest = &text[first_nl + 1..];
    // Find the closing fence on a line of its own.
    let mut offset = 0;
    let mut closing = None;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == fence {
            closing = Some((offset, offset + line.len()));
            break;
        }
        offset += line.len();
    }
    let Some((raw_end, body_start)) = closing else {
        warn(1, format!("front matter opened with `{fence}` is never closed; it was read as text"));
        return (None, text, 1);
    };
    let raw = &rest[..raw_end];
    let body = &rest[body_start..];
    let body_line = 2 + raw.lines().count() + 1;
    let parsed = if fence == "---" { parse_yaml(raw) } else { parse_toml(raw) };
    match parsed {
        Ok(meta) => (Some(meta), body, body_line),
        Err((line, message)) => {
            warn(1 + line, format!("front matter could not be read ({message}); it was ignored"));
            (None, body, body_line)
        }
    }
}

type FieldError = (usize, String);

fn parse_yaml(raw: &str) -> Result<ArticleMeta, FieldError> {
    let docs = YamlLoader::load_from_str(raw).map_err(|e| (e.marker().line(), e.to_string()))?;
    let mut meta = ArticleMeta::default();
    let Some(doc) = docs.into_iter().next() else { return Ok(meta) };
    let Yaml::Hash(map) = doc else {
        return Err((1, "expected `key: value` lines".into()));
    };
    for (k, v) in map {
        let Some(key) = k.as_str().map(str::to_string) else { continue };
        let value = match v {
            Yaml::String(s) => s,
            Yaml::Integer(i) => i.to_string(),
            Yaml::Real(r) => r,
            Yaml::Boolean(b) => b.to_string(),
            Yaml::Null => continue,
            other => format!("{other:?}"),
        };
        set_field(&mut meta, key, value);
    }
    Ok(meta)
}

fn parse_toml(raw: &str) -> Result<ArticleMeta, FieldError> {
    let table: toml::Table = raw.parse().map_err(|e: toml::de::Error| {
        let line = e.span().map(|s| raw[..s.start].matches('\n').count() + 1).unwrap_or(1);
        (line, e.message().to_string())
    })?;
    let mut meta = ArticleMeta::default();
    for (key, v) in table {
        let value = match v {
            toml::Value::String(s) => s,
            other => other.to_string(),
        };
        set_field(&mut meta, key, value);
    }
    Ok(meta)
}

fn set_field(meta: &mut ArticleMeta, key: String, value: String) {
    let value = value.trim().to_string();
    match key.as_str() {
        "title" => meta.title = value,
        "url" => meta.url = Some(value).filter(|v| !v.is_empty()),
        "publisher" => meta.publisher = Some(value).filter(|v| !v.is_empty()),
        "published" => meta.published = Some(value).filter(|v| !v.is_empty()),
        _ => {
            meta.extra.insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> (Option<ArticleMeta>, String, usize, Vec<(usize, String)>) {
        let mut warnings = Vec::new();
        let (meta, body, line) = split(text, &mut |l, m| warnings.push((l, m)));
        (meta, body.to_string(), line, warnings)
    }

    #[test]
    fn yaml_fields_and_unknown_ones_kept() {
        let (meta, body, line, w) =
            run("---\ntitle: \"A: b\"\nurl: https://x.test/a\nauthor: Jo\n---\n# H\n");
        let meta = meta.unwrap();
        assert_eq!(meta.title, "A: b");
        assert_eq!(meta.url.as_deref(), Some("https://x.test/a"));
        assert_eq!(meta.extra.get("author").map(String::as_str), Some("Jo"));
        assert_eq!(body, "# H\n");
        assert_eq!(line, 6);
        assert!(w.is_empty());
    }

    #[test]
    fn toml_front_matter() {
        let (meta, _, _, w) = run("+++\ntitle = \"T\"\npublished = 2024-01-02\n+++\ntext\n");
        let meta = meta.unwrap();
        assert_eq!(meta.title, "T");
        assert_eq!(meta.published.as_deref(), Some("2024-01-02"));
        assert!(w.is_empty());
    }

    #[test]
    fn broken_front_matter_warns_with_line_and_keeps_body() {
        let (meta, body, _, w) = run("---\ntitle: ok\nurl: [unclosed\n---\nBody\n");
        assert!(meta.is_none());
        assert_eq!(body, "Body\n");
        assert_eq!(w.len(), 1);
        assert!(w[0].0 >= 2, "line should point into the front matter: {w:?}");
        let (meta, body, _, w) = run("---\ntitle: never closed\n# H\n");
        assert!(meta.is_none());
        assert!(body.starts_with("---"));
        assert_eq!(w[0].0, 1);
    }
}
