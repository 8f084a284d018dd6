//! What the people running the bot want to know afterwards: 👍 / 👎 on an answer, and which
//! questions were answered or declined. A front end says who asked ([`Asked`]) and how an answer
//! was judged ([`Feedback`]) with plain ids; a [`FeedbackSink`] receives them: [`LogFeedback`] logs
//! them, [`crate::records::Recorder`] stores them (user ids only as keyed hashes) and
//! [`crate::metrics::Observed`] counts them.
//!
//! It sits below the front ends (the gateway bot and the HTTP endpoint both report through it)
//! and knows none of them: it imports nothing of the project but the answer it reports on.

/// One judgement of one passage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    /// The passage judged.
    pub passage_id: String,
    /// The corpus version it was quoted from.
    pub corpus_version: String,
    /// Who judged (the front end's user id, e.g. a Discord user id).
    pub user_id: u64,
    /// The guild, outside direct messages.
    pub guild_id: Option<u64>,
    /// 👍 (true) or 👎 (false).
    pub helpful: bool,
}

/// Who asked what, where, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    /// `slash`, `mention`, `context_menu` or `prefix`.
    pub entry_point: &'static str,
    /// The guild, outside direct messages.
    pub guild_id: Option<u64>,
    /// The channel.
    pub channel_id: u64,
    /// Who asked (the front end's user id, e.g. a Discord user id).
    pub user_id: u64,
    /// The question.
    pub question: String,
}

/// Where feedback goes. Called from the async executor: keep it quick or hand work off.
pub trait FeedbackSink: Send + Sync + 'static {
    /// Records one judgement.
    fn record(&self, feedback: Feedback);

    /// Records the outcome of one question (answered or declined).
    fn outcome(&self, asked: &Asked, answer: &crate::answer::Answer, corpus_version: &str) {
        let _ = (asked, answer, corpus_version);
    }

    /// How long answering one question took, answered or not (for metrics).
    fn timed(&self, asked: &Asked, elapsed: std::time::Duration) {
        let _ = (asked, elapsed);
    }

    /// Answering one question failed; the caller logs the error and apologises.
    fn failed(&self, asked: &Asked) {
        let _ = asked;
    }
}

/// The default sink: one log line per judgement.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogFeedback;

impl FeedbackSink for LogFeedback {
    fn record(&self, f: Feedback) {
        // No user id in logs: who voted is not needed to read them.
        tracing::info!(
            passage = %f.passage_id,
            corpus = %f.corpus_version,
            guild = ?f.guild_id,
            helpful = f.helpful,
            "answer feedback"
        );
    }
}
