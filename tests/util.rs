//! Shared helpers: temporary corpora, configurations and the citebot binary.

#![allow(dead_code)]

use citebot::app::{self, Loaded, Rebuild};
use citebot::config::Config;
use citebot::retrieval::Retriever;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped article's path.
pub fn shipped_article() -> PathBuf {
    root().join("corpus/what-does-collagen-serum-do.md")
}

/// A temporary workspace with a corpus directory, an index directory and a config file.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    /// A workspace whose corpus holds a copy of the shipped article, synonyms and example questions.
    pub fn shipped() -> Workspace {
        let ws = Workspace::empty();
        ws.write(
            "corpus/what-does-collagen-serum-do.md",
            &std::fs::read_to_string(shipped_article()).unwrap(),
        );
        ws.write(
            "corpus/synonyms.txt",
            &std::fs::read_to_string(root().join("corpus/synonyms.txt")).unwrap(),
        );
        ws.write(
            "corpus/examples.jsonl",
            &std::fs::read_to_string(root().join("corpus/examples.jsonl")).unwrap(),
        );
        ws
    }

    /// A workspace with an empty corpus directory.
    pub fn empty() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("corpus")).unwrap();
        let ws = Workspace { dir };
        ws.write(
            "config.toml",
            &format!(
                "[corpus]\ndir = {:?}\nsynonyms = {:?}\nexamples = {:?}\n[index]\ndir = {:?}\n[semantic]\nmodel_dir = \"\"\n",
                ws.path("corpus"),
                ws.path("corpus/synonyms.txt"),
                ws.path("corpus/examples.jsonl"),
                ws.path("index")
            ),
        );
        ws
    }

    /// The same workspace answering with the sentence model in `model` (its configuration's
    /// `[semantic] model_dir`).
    pub fn with_model(self, model: &Path) -> Workspace {
        let config = std::fs::read_to_string(self.path("config.toml")).unwrap();
        let config = config.replace("model_dir = \"\"", &format!("model_dir = {model:?}"));
        self.write("config.toml", &config);
        self
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) {
        self.write_bytes(rel, text.as_bytes());
    }

    pub fn write_bytes(&self, rel: &str, bytes: &[u8]) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    pub fn config(&self) -> Config {
        Config::load_with_env(&self.path("config.toml"), true, Vec::<(String, String)>::new()).unwrap()
    }

    pub fn open(&self) -> (Retriever, Loaded) {
        app::open(&self.config(), Rebuild::IfStale).unwrap()
    }

    /// Runs the citebot binary with this workspace's configuration.
    pub fn citebot(&self, args: &[&str]) -> Output {
        citebot_in(
            self.dir.path(),
            &[&["--config", self.path("config.toml").to_str().unwrap()], args].concat(),
            None,
        )
    }

    /// Runs the citebot binary with standard input.
    pub fn citebot_stdin(&self, args: &[&str], stdin: &str) -> Output {
        citebot_in(
            self.dir.path(),
            &[&["--config", self.path("config.toml").to_str().unwrap()], args].concat(),
            Some(stdin),
        )
    }
}

/// The sentence model the tests use (`citebot model fetch` puts it there; CITEBOT_TEST_MODEL_DIR
/// names another). None, after a note, when it is missing; under CI=true a missing model fails the
/// test instead, since CI fetches it first.
pub fn model_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("CITEBOT_TEST_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("models/all-MiniLM-L6-v2"));
    if dir.join("model.safetensors").is_file() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("the sentence model is missing from {}: run `cargo run -- model fetch` first", dir.display());
    }
    eprintln!("skipped: no sentence model in {} (run `cargo run -- model fetch`)", dir.display());
    None
}

/// Runs the citebot binary in `dir`, with a clean environment for configuration.
pub fn citebot_in(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_citebot"));
    cmd.args(args).current_dir(dir).env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("CITEBOT__") || k == "DISCORD_TOKEN" {
            cmd.env_remove(k);
        }
    }
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("citebot runs");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
