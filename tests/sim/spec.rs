//! Recorded request bodies checked against Discord's official OpenAPI description
//! (`../shared/discord-api-spec/openapi.json`, JSON Schema 2020-12, with formats) and against
//! Discord's documented limits that the description does not encode (content 2000, 6000 for all
//! embeds of a message, `allowed_mentions` present on everything the bot sends).
//!
//! A missing description file skips the schema check with a note, except under `CI=true`, where
//! it fails the test.

use super::Request;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// The OpenAPI document and compiled validators.
pub struct Spec {
    doc: Value,
    templates: Vec<(String, Vec<String>)>,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

/// Where the description lives: next to the repository.
pub fn spec_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/discord-api-spec/openapi.json")
}

/// The loaded description, or None when the file is missing (and CI is not set).
pub fn spec() -> Option<&'static Spec> {
    static SPEC: OnceLock<Option<Spec>> = OnceLock::new();
    SPEC.get_or_init(|| {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        load(&spec_path(), ci).unwrap_or_else(|e| panic!("{e}"))
    })
    .as_ref()
}

/// Loads the description at `path`. A missing file is None (with a note), or an error when `ci`.
pub fn load(path: &Path, ci: bool) -> Result<Option<Spec>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if ci => {
            return Err(format!(
                "CI=true and Discord's OpenAPI description {} cannot be read: {e}",
                path.display()
            ));
        }
        Err(e) => {
            eprintln!(
                "note: {} not readable ({e}); REST bodies are checked against limits only",
                path.display()
            );
            return Ok(None);
        }
    };
    let doc: Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    let templates = doc["paths"]
        .as_object()
        .ok_or_else(|| format!("{} has no paths", path.display()))?
        .keys()
        .map(|k| (k.clone(), k.trim_start_matches('/').split('/').map(str::to_string).collect()))
        .collect();
    Ok(Some(Spec { doc, templates, validators: Mutex::new(HashMap::new()) }))
}

impl Spec {
    /// The path template matching a concrete path (`/channels/1/messages` →
    /// `/channels/{channel_id}/messages`), preferring the most literal one.
    pub fn template(&self, path: &str) -> Option<&str> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        self.templates
            .iter()
            .filter(|(_, t)| {
                t.len() == segments.len()
                    && t.iter()
                        .zip(&segments)
                        .all(|(t, s)| (t.starts_with('{') && t.ends_with('}')) || t == s)
            })
            .max_by_key(|(_, t)| t.iter().filter(|s| !s.starts_with('{')).count())
            .map(|(k, _)| k.as_str())
    }

    fn validator(&self, key: &str, schema: &Value) -> Arc<jsonschema::Validator> {
        let mut cache = self.validators.lock().unwrap();
        if let Some(v) = cache.get(key) {
            return v.clone();
        }
        let mut root = schema.clone();
        root["components"] = self.doc["components"].clone();
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("schema {key} does not compile: {e}"));
        let v = Arc::new(validator);
        cache.insert(key.to_string(), v.clone());
        v
    }

    fn errors(&self, key: &str, schema: &Value, body: &Value) -> Vec<String> {
        let v = self.validator(key, schema);
        v.iter_errors(body).map(|e| format!("{key}: {e} at {}", e.instance_path())).collect()
    }

    /// Schema errors of one request (empty when valid).
    pub fn check(&self, r: &Request) -> Vec<String> {
        let path = r.path.trim_start_matches("/api/v10");
        let Some(template) = self.template(path) else {
            return vec![format!("{} {path} is not in Discord's API description", r.method)];
        };
        let method = r.method.to_lowercase();
        let Some(op) = self.doc["paths"][template].get(&method) else {
            return vec![format!("{} {template} is not in Discord's API description", r.method)];
        };
        let schema = &op["requestBody"]["content"]["application/json"]["schema"];
        let body = match (&r.body, schema.is_null()) {
            (None, _) => return Vec::new(),
            (Some(b), true) => return vec![format!("{} {template} takes no body but got {b}", r.method)],
            (Some(b), false) => b,
        };
        let mut errors = self.errors(&format!("{method} {template}"), schema, body);
        if template.ends_with("/callback") {
            // The path's schema is a union of every callback type; the type chosen must fit its own.
            let specific = match body["type"].as_u64() {
                Some(4 | 5) => "CreateMessageInteractionCallbackRequest",
                Some(6 | 7) => "UpdateMessageInteractionCallbackRequest",
                Some(8) => "ApplicationCommandAutocompleteCallbackRequest",
                other => return vec![format!("unexpected interaction callback type {other:?}")],
            };
            let schema = json!({"$ref": format!("#/components/schemas/{specific}")});
            errors.extend(self.errors(specific, &schema, body));
        }
        errors
    }
}

fn len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// The message part of a body: the body itself, or `data` of an interaction callback.
fn message_part<'a>(r: &Request, body: &'a Value) -> Option<&'a Value> {
    if r.path.ends_with("/callback") {
        return match body["type"].as_u64() {
            Some(4 | 7) => Some(&body["data"]),
            _ => None,
        };
    }
    let sends_message = r.is("POST", "/messages")
        || r.is("PATCH", "/messages/@original")
        || (r.method == "POST" && r.path.starts_with("/api/v10/webhooks/"));
    sends_message.then_some(body)
}

/// Discord's documented limits, and the bot's own rule that nothing it sends pings anybody.
pub fn limit_errors(r: &Request) -> Vec<String> {
    let mut errors = Vec::new();
    let Some(body) = &r.body else { return errors };
    let mut over = |what: &str, n: usize, max: usize| {
        if n > max {
            errors.push(format!("{} {}: {what} is {n}, over {max}", r.method, r.path));
        }
    };
    if r.path.ends_with("/callback") && body["type"] == 8 {
        let choices = body["data"]["choices"].as_array().cloned().unwrap_or_default();
        over("autocomplete choices", choices.len(), 25);
        for c in &choices {
            over("choice name", len(c["name"].as_str().unwrap_or_default()), 100);
        }
    }
    let Some(m) = message_part(r, body) else { return errors };
    over("content", len(m["content"].as_str().unwrap_or_default()), 2000);
    let embeds = m["embeds"].as_array().cloned().unwrap_or_default();
    over("embeds", embeds.len(), 10);
    let mut total = 0;
    for e in &embeds {
        let title = len(e["title"].as_str().unwrap_or_default());
        let description = len(e["description"].as_str().unwrap_or_default());
        let footer = len(e["footer"]["text"].as_str().unwrap_or_default());
        over("embed title", title, 256);
        over("embed description", description, 4096);
        over("embed footer", footer, 2048);
        total += title + description + footer;
    }
    over("all embeds", total, 6000);
    for row in m["components"].as_array().into_iter().flatten() {
        let buttons = row["components"].as_array().cloned().unwrap_or_default();
        over("buttons in a row", buttons.len(), 5);
        for b in &buttons {
            over("custom_id", len(b["custom_id"].as_str().unwrap_or_default()), 100);
            over("label", len(b["label"].as_str().unwrap_or_default()), 80);
        }
    }
    let pings = &m["allowed_mentions"];
    if pings["parse"] != json!([])
        || pings["users"].as_array().is_some_and(|u| !u.is_empty())
        || pings["roles"].as_array().is_some_and(|u| !u.is_empty())
    {
        errors.push(format!("{} {}: allowed_mentions {pings} may ping someone", r.method, r.path));
    }
    errors
}

/// Checks every recorded body (schema and limits); returns how many bodies were checked.
pub fn assert_valid(requests: &[Request]) -> usize {
    let spec = spec();
    let mut errors = Vec::new();
    let mut checked = 0;
    for r in requests {
        if let Some(spec) = spec {
            errors.extend(spec.check(r));
        }
        errors.extend(limit_errors(r));
        checked += usize::from(r.body.is_some());
    }
    assert!(errors.is_empty(), "invalid requests:\n{}", errors.join("\n"));
    checked
}

#[cfg(test)]
mod tests {
    //! The checks themselves: they must fail where Discord would refuse a request.

    use super::*;

    fn request(method: &str, path: &str, body: Value) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            authorization: None,
            user_agent: None,
            body: Some(body),
        }
    }

    #[test]
    fn a_missing_discord_api_description_fails_under_ci_and_is_skipped_otherwise() {
        let missing = Path::new("/nonexistent/openapi.json");
        assert!(matches!(load(missing, true), Err(e) if e.contains("CI=true")));
        assert!(matches!(load(missing, false), Ok(None)));
    }

    #[test]
    fn the_discord_api_description_rejects_what_discord_would() {
        let Some(spec) = spec() else { return };
        assert_eq!(spec.template("/channels/1/messages"), Some("/channels/{channel_id}/messages"));
        assert_eq!(
            spec.template("/webhooks/1/t/messages/@original"),
            Some("/webhooks/{webhook_id}/{webhook_token}/messages/@original")
        );
        let ok = json!({"content": "hi", "allowed_mentions": {"parse": []}});
        assert_eq!(spec.check(&request("POST", "/api/v10/channels/1/messages", ok)), Vec::<String>::new());
        let bad = [
            request("POST", "/api/v10/channels/1/messages", json!({"embeds": [{"title": "t".repeat(257)}]})),
            request("POST", "/api/v10/channels/1/messages", json!({"embeds": [{"url": "not a url"}]})),
            request(
                "POST",
                "/api/v10/interactions/1/t/callback",
                json!({"type": 4, "data": {"content": "x".repeat(2001)}}),
            ),
            request("POST", "/api/v10/interactions/1/t/callback", json!({"type": 7, "data": {"flags": "x"}})),
            request("PUT", "/api/v10/applications/1/commands", json!([{"name": 5}])),
            request("POST", "/api/v10/no/such/route", json!({})),
        ];
        for r in bad {
            assert!(!spec.check(&r).is_empty(), "accepted {} {}: {}", r.method, r.path, r.json());
        }
    }

    #[test]
    fn discord_limits_and_pings_are_checked_beyond_the_description() {
        let path = "/api/v10/channels/1/messages";
        let quiet = json!({"parse": [], "users": [], "roles": [], "replied_user": false});
        let ok = json!({"content": "x", "allowed_mentions": quiet});
        assert_eq!(limit_errors(&request("POST", path, ok)), Vec::<String>::new());
        let big = json!({"description": "d".repeat(4000), "title": "t"});
        let bad = [
            json!({"content": "x".repeat(2001), "allowed_mentions": quiet}),
            json!({"embeds": [big, big], "allowed_mentions": quiet}),
            json!({"content": "@everyone"}),
            json!({"content": "x", "allowed_mentions": {"parse": ["everyone"]}}),
            json!({"content": "x", "allowed_mentions": {"parse": [], "roles": ["5"]}}),
        ];
        for body in bad {
            assert!(!limit_errors(&request("POST", path, body.clone())).is_empty(), "accepted {body}");
        }
    }
}
