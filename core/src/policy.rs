//! Import policy: what the importer demands beyond valid signatures and
//! pins (docs/PINS.md, "Policy file").
//!
//! ```toml
//! max_metadata_age = "30d"      # optional; s, m, h or d
//! clock_skew = "5m"             # default 5m, at most 1d
//! ai_generated = "require-review"   # allow (default) | require-review | deny
//! allow_namespaces = ["acme/*"]     # empty: every namespace
//! deny_namespaces = ["acme/experimental-*"]
//! require_log = true               # default true: refuse a bundle without a transparency log
//! required_witnesses = 0            # default 0: cosignatures by listed witnesses a checkpoint needs
//!
//! [[sigstore]]                      # Sigstore identity per namespace, first match decides
//! namespace = "acme/*"
//! mode = "require"                  # require | verify-if-present | ignore
//! issuer = "https://token.actions.githubusercontent.com"
//! san = "https://github.com/acme/tool/.github/workflows/release.yml@refs/tags/*"
//!
//! [[witness]]
//! name = "witness.example"
//! key = "<64 hex digits: an Ed25519 public key>"
//! ```
//!
//! Reading is strict: an unknown or misspelt member is refused, so a policy
//! never silently means less than its author wrote. Every refusal is a
//! [`PolicyRefusal`] naming the rule that refused.
//!
//! Witnesses cosign the registry log's checkpoints (docs/FORMAT.md 10.5);
//! an import counts the valid cosignatures by listed witnesses on the
//! bundle's checkpoint and its companion `.checkpoint` file.

use crate::log::{verify_cosignatures, SignedNote};
use crate::metadata::TargetFile;
use crate::paths::glob_match;
use crate::provenance::Provenance;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// The clock skew allowed when the policy does not say.
pub const DEFAULT_CLOCK_SKEW_SECS: u64 = 5 * 60;
/// The largest clock skew a policy may allow: one day. A larger allowance
/// would let stale metadata through for longer than any role's expiry
/// period is meant to last; a machine whose clock is further off should be
/// given the time explicitly (`--at`).
pub const MAX_CLOCK_SKEW_SECS: u64 = 24 * 60 * 60;

/// How AI-generated targets are treated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AiGenerated {
    /// Accepted like any other target.
    #[default]
    Allow,
    /// Accepted only with a recorded review (`reviewed_by` and `reviewed_at`).
    RequireReview,
    /// Refused.
    Deny,
}

/// A witness whose cosignatures on log checkpoints the policy counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witness {
    /// The witness's key name (as in its cosignature lines).
    pub name: String,
    /// Its Ed25519 public key.
    pub key: [u8; 32],
}

/// Why a policy file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Not TOML, or not of the documented shape (an unknown member, a wrong type).
    #[error("policy file is malformed: {0}")]
    Malformed(String),
    /// A duration that is not a whole number followed by `s`, `m`, `h` or `d`.
    #[error("policy {field} = {value:?} is not a duration such as \"30d\", \"12h\", \"5m\" or \"3600s\"")]
    BadDuration {
        /// The member.
        field: &'static str,
        /// The value as written.
        value: String,
    },
    /// A clock skew above [`MAX_CLOCK_SKEW_SECS`].
    #[error("policy clock_skew = {value:?} is more than one day; give the time with --at instead")]
    SkewTooLarge {
        /// The value as written.
        value: String,
    },
    /// An empty namespace pattern.
    #[error("policy {field} has an empty pattern")]
    EmptyPattern {
        /// The member.
        field: &'static str,
    },
    /// A witness name that is empty or holds whitespace or `+` (signed-note key names cannot).
    #[error("witness name {0:?} is empty or holds whitespace or '+'")]
    BadWitnessName(String),
    /// A witness key that is not 64 hex digits of a valid Ed25519 public key.
    #[error("witness {name:?}: key is not 64 hex digits of an Ed25519 public key")]
    BadWitnessKey {
        /// The witness.
        name: String,
    },
    /// Two witnesses share a name or a key.
    #[error("witness {0:?} is listed twice (by name or by key)")]
    DuplicateWitness(String),
    /// A `[[sigstore]]` rule that cannot be applied.
    #[error("policy [[sigstore]] rule for {namespace:?}: {reason}")]
    BadSigstoreRule {
        /// Its namespace.
        namespace: String,
        /// Why.
        reason: String,
    },
    /// More witnesses required than are listed.
    #[error("policy requires {required} witness cosignature(s) but lists {listed} witness(es)")]
    TooManyRequiredWitnesses {
        /// `required_witnesses`.
        required: u64,
        /// How many `[[witness]]` entries there are.
        listed: usize,
    },
}

/// A policy refusal: which rule refused, for which target, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused by policy rule {rule}{}: {detail}", target.as_ref().map(|t| format!(" for target {t:?}")).unwrap_or_default())]
pub struct PolicyRefusal {
    /// The rule: `ai_generated`, `deny_namespaces`, `allow_namespaces`,
    /// `max_metadata_age`, `clock_skew` or `required_witnesses`.
    pub rule: &'static str,
    /// The target refused, when the rule is about one.
    pub target: Option<String>,
    /// What the rule found.
    pub detail: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    max_metadata_age: Option<String>,
    clock_skew: Option<String>,
    #[serde(default)]
    ai_generated: AiGenerated,
    #[serde(default)]
    allow_namespaces: Vec<String>,
    #[serde(default)]
    deny_namespaces: Vec<String>,
    #[serde(default, rename = "witness")]
    witnesses: Vec<WitnessFile>,
    #[serde(default)]
    required_witnesses: u64,
    require_log: Option<bool>,
    #[serde(default)]
    sigstore: Vec<SigstoreRuleFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SigstoreRuleFile {
    namespace: String,
    mode: SigstoreMode,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    san: Option<String>,
}

/// What an import demands of targets a Sigstore rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SigstoreMode {
    /// Every matching target must carry a Sigstore bundle that verifies
    /// with the pinned Sigstore trusted root and names the rule's identity.
    Require,
    /// A matching target's Sigstore bundle, if it carries one, must verify
    /// and name the identity; one without is accepted.
    VerifyIfPresent,
    /// Sigstore bundles of matching targets are not checked.
    Ignore,
}

/// One `[[sigstore]]` rule: the identity a namespace's Sigstore bundles must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigstoreRule {
    /// The namespace pattern (TUF glob) the rule applies to.
    pub namespace: String,
    /// What it demands.
    pub mode: SigstoreMode,
    /// The certificate's OIDC issuer, exactly (empty for `ignore`).
    pub issuer: String,
    /// The certificate's SAN: exact, or with `*` matching a run of
    /// characters without `/` (empty for `ignore`).
    pub san: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WitnessFile {
    name: String,
    key: String,
}

/// A checked import policy. [`Policy::default`] demands nothing beyond
/// signatures and pins (clock skew 5 minutes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    max_metadata_age: Option<u64>,
    clock_skew: u64,
    ai_generated: AiGenerated,
    allow_namespaces: Vec<String>,
    deny_namespaces: Vec<String>,
    witnesses: Vec<Witness>,
    required_witnesses: usize,
    require_log: bool,
    sigstore: Vec<SigstoreRule>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_metadata_age: None,
            clock_skew: DEFAULT_CLOCK_SKEW_SECS,
            ai_generated: AiGenerated::Allow,
            allow_namespaces: Vec::new(),
            deny_namespaces: Vec::new(),
            witnesses: Vec::new(),
            required_witnesses: 0,
            require_log: true,
            sigstore: Vec::new(),
        }
    }
}

/// Parses `30d`, `12h`, `5m`, `3600s` into seconds.
fn parse_duration(field: &'static str, value: &str) -> Result<u64, PolicyError> {
    let bad = || PolicyError::BadDuration { field, value: value.to_owned() };
    let unit = value.chars().last().ok_or_else(bad)?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 60 * 60,
        'd' => 24 * 60 * 60,
        _ => return Err(bad()),
    };
    let digits = &value[..value.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|n| i64::try_from(*n).is_ok())
        .ok_or_else(bad)
}

fn secs(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn check_patterns(field: &'static str, patterns: &[String]) -> Result<(), PolicyError> {
    if patterns.iter().any(String::is_empty) {
        return Err(PolicyError::EmptyPattern { field });
    }
    Ok(())
}

fn witness(w: WitnessFile) -> Result<Witness, PolicyError> {
    if w.name.is_empty() || w.name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(PolicyError::BadWitnessName(w.name));
    }
    let key: Option<[u8; 32]> = hex::decode(&w.key).ok().and_then(|b| b.try_into().ok());
    match key {
        Some(k) if ed25519_dalek::VerifyingKey::from_bytes(&k).is_ok() => {
            Ok(Witness { name: w.name, key: k })
        }
        _ => Err(PolicyError::BadWitnessKey { name: w.name }),
    }
}

impl Policy {
    /// Reads and checks a policy file.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let f: PolicyFile =
            toml::from_str(text).map_err(|e| PolicyError::Malformed(e.message().to_owned()))?;
        let max_metadata_age =
            f.max_metadata_age.as_deref().map(|v| parse_duration("max_metadata_age", v)).transpose()?;
        let clock_skew = match f.clock_skew.as_deref() {
            None => DEFAULT_CLOCK_SKEW_SECS,
            Some(v) => {
                let s = parse_duration("clock_skew", v)?;
                if s > MAX_CLOCK_SKEW_SECS {
                    return Err(PolicyError::SkewTooLarge { value: v.to_owned() });
                }
                s
            }
        };
        check_patterns("allow_namespaces", &f.allow_namespaces)?;
        check_patterns("deny_namespaces", &f.deny_namespaces)?;
        let mut witnesses: Vec<Witness> = Vec::new();
        for w in f.witnesses {
            let w = witness(w)?;
            if witnesses.iter().any(|o| o.name == w.name || o.key == w.key) {
                return Err(PolicyError::DuplicateWitness(w.name));
            }
            witnesses.push(w);
        }
        let required_witnesses = usize::try_from(f.required_witnesses)
            .ok()
            .filter(|k| *k <= witnesses.len())
            .ok_or(PolicyError::TooManyRequiredWitnesses {
                required: f.required_witnesses,
                listed: witnesses.len(),
            })?;
        let mut sigstore = Vec::new();
        for r in f.sigstore {
            check_patterns("sigstore namespace", std::slice::from_ref(&r.namespace))?;
            let (issuer, san) = match (r.mode, r.issuer, r.san) {
                (SigstoreMode::Ignore, None, None) => (String::new(), String::new()),
                (SigstoreMode::Ignore, _, _) => {
                    return Err(PolicyError::BadSigstoreRule {
                        namespace: r.namespace,
                        reason: "mode ignore takes no issuer or san".into(),
                    })
                }
                (_, Some(i), Some(s)) if !i.is_empty() && !s.is_empty() => (i, s),
                _ => {
                    return Err(PolicyError::BadSigstoreRule {
                        namespace: r.namespace,
                        reason: "give both issuer and san".into(),
                    })
                }
            };
            sigstore.push(SigstoreRule { namespace: r.namespace, mode: r.mode, issuer, san });
        }
        Ok(Policy {
            sigstore,
            max_metadata_age,
            clock_skew,
            ai_generated: f.ai_generated,
            allow_namespaces: f.allow_namespaces,
            deny_namespaces: f.deny_namespaces,
            witnesses,
            required_witnesses,
            require_log: f.require_log.unwrap_or(true),
        })
    }

    /// The maximum metadata age in seconds, if the policy sets one.
    pub fn max_metadata_age(&self) -> Option<u64> {
        self.max_metadata_age
    }

    /// The clock skew allowed, in seconds.
    pub fn clock_skew(&self) -> u64 {
        self.clock_skew
    }

    /// How AI-generated targets are treated.
    pub fn ai_generated(&self) -> AiGenerated {
        self.ai_generated
    }

    /// Namespace patterns allowed (empty: all).
    pub fn allow_namespaces(&self) -> &[String] {
        &self.allow_namespaces
    }

    /// Namespace patterns denied.
    pub fn deny_namespaces(&self) -> &[String] {
        &self.deny_namespaces
    }

    /// The witnesses listed.
    pub fn witnesses(&self) -> &[Witness] {
        &self.witnesses
    }

    /// How many witness cosignatures a log checkpoint needs.
    pub fn required_witnesses(&self) -> usize {
        self.required_witnesses
    }

    /// The first `[[sigstore]]` rule whose namespace matches `target`.
    pub fn sigstore_rule(&self, target: &str) -> Option<&SigstoreRule> {
        self.sigstore.iter().find(|r| glob_match(&r.namespace, target))
    }

    /// Every `[[sigstore]]` rule, in order.
    pub fn sigstore_rules(&self) -> &[SigstoreRule] {
        &self.sigstore
    }

    /// Whether a bundle without a transparency log is refused (default:
    /// yes; `require_log = false` admits bundles of repositories that keep
    /// no log, until the first one with a log arrives).
    pub fn require_log(&self) -> bool {
        self.require_log
    }

    /// Checks one verified target: namespaces, then generation provenance.
    ///
    /// - `deny_namespaces`: a target matching any pattern is refused.
    /// - `allow_namespaces`: when not empty, a target matching none is refused.
    /// - `ai_generated`: `deny` refuses a target whose provenance says
    ///   `ai_generated: true`; `require-review` refuses one without both
    ///   `reviewed_by` and `reviewed_at`. A target with no provenance object
    ///   counts as not AI-generated: provenance is a publisher's signed
    ///   declaration, and absence is the declaration of ordinary targets
    ///   (and of every target from registries that predate it). A policy
    ///   that must exclude undeclared targets should bind those namespaces
    ///   to publishers that declare, or deny them. A malformed provenance
    ///   object is refused whenever the rule consults provenance (that is,
    ///   unless it is `allow`), so no decision rests on a misspelt record.
    pub fn check_target(&self, path: &str, file: &TargetFile) -> Result<(), PolicyRefusal> {
        let refuse = |rule: &'static str, detail: String| PolicyRefusal {
            rule,
            target: Some(path.to_owned()),
            detail,
        };
        if let Some(p) = self.deny_namespaces.iter().find(|p| glob_match(p, path)) {
            return Err(refuse("deny_namespaces", format!("matches denied pattern {p:?}")));
        }
        if !self.allow_namespaces.is_empty() && !self.allow_namespaces.iter().any(|p| glob_match(p, path)) {
            return Err(refuse(
                "allow_namespaces",
                format!("matches none of the allowed patterns {}", self.allow_namespaces.join(", ")),
            ));
        }
        if self.ai_generated == AiGenerated::Allow {
            return Ok(());
        }
        let provenance = Provenance::of_target(file)
            .map_err(|e| refuse("ai_generated", format!("cannot decide on provenance: {e}")))?;
        let Some(p) = provenance.filter(|p| p.ai_generated) else { return Ok(()) };
        match self.ai_generated {
            AiGenerated::Allow => Ok(()),
            AiGenerated::Deny => Err(refuse("ai_generated", "AI-generated targets are denied".into())),
            AiGenerated::RequireReview => match (&p.reviewed_by, &p.reviewed_at) {
                (Some(_), Some(_)) => Ok(()),
                _ => Err(refuse(
                    "ai_generated",
                    "AI-generated without a recorded review (reviewed_by and reviewed_at)".into(),
                )),
            },
        }
    }

    /// Checks the age of metadata issued at `issued` (when known), at `now`.
    ///
    /// Refuses (rule `max_metadata_age`) when the policy sets a maximum age
    /// and the issue time is unknown, or when `now - issued` exceeds the
    /// maximum age plus the clock skew; and (rule `clock_skew`) when
    /// `issued` lies more than the clock skew after `now`, which no honest
    /// registry clock and skewed importer clock together explain.
    pub fn check_age(&self, issued: Option<Timestamp>, now: Timestamp) -> Result<(), PolicyRefusal> {
        let skew = secs(self.clock_skew);
        let refuse = |rule, detail| Err(PolicyRefusal { rule, target: None, detail });
        if let Some(issued) = issued {
            if issued > now.plus_secs(skew) {
                return refuse(
                    "clock_skew",
                    format!(
                        "metadata issued at {issued}, after the check time {now} plus the allowed clock skew of {}s",
                        self.clock_skew
                    ),
                );
            }
        }
        let Some(max) = self.max_metadata_age else { return Ok(()) };
        let Some(issued) = issued else {
            return refuse(
                "max_metadata_age",
                "the metadata's issue time is unknown, so its age cannot be checked".into(),
            );
        };
        let age = i128::from(now.unix()) - i128::from(issued.unix());
        if age > i128::from(max) + i128::from(self.clock_skew) {
            return refuse(
                "max_metadata_age",
                format!(
                    "metadata issued at {issued} is {age}s old at {now}; the policy allows {max}s plus {}s clock skew",
                    self.clock_skew
                ),
            );
        }
        Ok(())
    }

    /// The time to check expiry against: `now` minus the clock skew.
    ///
    /// Expiry is "refuse when `now` is at or after `expires`". An isolated
    /// machine's clock often runs ahead; without the allowance, metadata
    /// with a short expiry (timestamp: one day) that is still current would
    /// be refused. Subtracting the skew accepts metadata up to the skew past
    /// its expiry and no more; the skew is 5 minutes unless the policy says
    /// otherwise, and never more than a day ([`MAX_CLOCK_SKEW_SECS`]).
    pub fn effective_now(&self, now: Timestamp) -> Timestamp {
        now.plus_secs(-secs(self.clock_skew))
    }

    /// Witness keys in the form [`verify_cosignatures`] takes.
    pub fn witness_keys(&self) -> Vec<(String, [u8; 32])> {
        self.witnesses.iter().map(|w| (w.name.clone(), w.key)).collect()
    }

    /// Checks that a log checkpoint carries at least `required_witnesses`
    /// valid cosignatures by listed witnesses (rule `required_witnesses`);
    /// a listed witness's cosignature that does not verify refuses the
    /// checkpoint. Returns how many verified.
    pub fn check_witnesses(&self, checkpoint: &SignedNote) -> Result<usize, PolicyRefusal> {
        verify_cosignatures(checkpoint, &self.witness_keys(), self.required_witnesses).map_err(|e| {
            PolicyRefusal { rule: "required_witnesses", target: None, detail: format!("log checkpoint: {e}") }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Ed25519Signer;
    use crate::log::{cosign, sign_note};
    use serde_json::json;

    use crate::time::testing::t;

    fn file(custom: Option<serde_json::Value>) -> TargetFile {
        TargetFile {
            length: 1,
            hashes: [("sha256".to_owned(), "00".repeat(32))].into_iter().collect(),
            custom: custom.map(Box::new),
            extra: Default::default(),
        }
    }

    fn ai(reviewed_by: Option<&str>, reviewed_at: Option<&str>) -> TargetFile {
        file(Some(json!({"airlock": {"provenance": {
            "ai_generated": true, "tool": "codegen", "reviewed_by": reviewed_by, "reviewed_at": reviewed_at
        }}})))
    }

    fn human() -> TargetFile {
        file(Some(json!({"airlock": {"provenance": {"ai_generated": false}}})))
    }

    fn key_hex(seed: u8) -> String {
        hex::encode(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]).verifying_key().to_bytes())
    }

    fn policy(text: &str) -> Policy {
        Policy::from_toml(text).unwrap()
    }

    #[test]
    fn defaults() {
        let p = policy("");
        assert_eq!(p, Policy::default());
        assert_eq!(p.clock_skew(), 300);
        assert_eq!(p.max_metadata_age(), None);
        assert_eq!(p.ai_generated(), AiGenerated::Allow);
        assert_eq!(p.required_witnesses(), 0);
        assert!(p.check_target("any/thing", &ai(None, None)).is_ok());
        assert!(p.check_age(None, t("2026-06-01T00:00:00Z")).is_ok());
    }

    #[test]
    fn full_file() {
        let p = policy(&format!(
            r#"
            max_metadata_age = "30d"
            clock_skew = "10m"
            ai_generated = "require-review"
            allow_namespaces = ["acme/*"]
            deny_namespaces = ["acme/exp-*"]
            required_witnesses = 0
            [[witness]]
            name = "w1.example"
            key = "{}"
            "#,
            key_hex(1)
        ));
        assert_eq!(p.max_metadata_age(), Some(30 * 86400));
        assert_eq!(p.clock_skew(), 600);
        assert_eq!(p.ai_generated(), AiGenerated::RequireReview);
        assert_eq!(p.allow_namespaces(), ["acme/*"]);
        assert_eq!(p.deny_namespaces(), ["acme/exp-*"]);
        assert_eq!(p.witnesses().len(), 1);
        assert_eq!(p.required_witnesses(), 0);
    }

    #[test]
    fn durations() {
        for (v, s) in [("3600s", 3600), ("12h", 43200), ("30d", 2_592_000), ("5m", 300), ("0s", 0)] {
            assert_eq!(policy(&format!("max_metadata_age = \"{v}\"")).max_metadata_age(), Some(s));
        }
        for v in
            ["", "30", "d", "1.5h", "-1d", "+1d", "1w", "1 d", "99999999999999999999d", "106751991167301d"]
        {
            assert_eq!(
                Policy::from_toml(&format!("max_metadata_age = \"{v}\"")),
                Err(PolicyError::BadDuration { field: "max_metadata_age", value: v.into() }),
                "{v:?}"
            );
        }
        assert_eq!(
            Policy::from_toml("clock_skew = \"1x\""),
            Err(PolicyError::BadDuration { field: "clock_skew", value: "1x".into() })
        );
        assert_eq!(policy("clock_skew = \"1d\"").clock_skew(), 86400);
        assert_eq!(
            Policy::from_toml("clock_skew = \"25h\""),
            Err(PolicyError::SkewTooLarge { value: "25h".into() })
        );
    }

    #[test]
    fn malformed_files() {
        for text in [
            "max_metadata_age = 30",
            "maximum_metadata_age = \"30d\"",
            "ai_generated = \"sometimes\"",
            "ai_generated = \"require_review\"",
            "allow_namespaces = \"acme/*\"",
            "required_witnesses = -1",
            "[[witness]]\nname = \"w\"",
            "[[witness]]\nname = \"w\"\nkey = \"00\"\nweight = 2",
            "not toml at all",
        ] {
            assert!(matches!(Policy::from_toml(text), Err(PolicyError::Malformed(_))), "{text}");
        }
        assert_eq!(
            Policy::from_toml("deny_namespaces = [\"a/*\", \"\"]"),
            Err(PolicyError::EmptyPattern { field: "deny_namespaces" })
        );
        assert_eq!(
            Policy::from_toml("allow_namespaces = [\"\"]"),
            Err(PolicyError::EmptyPattern { field: "allow_namespaces" })
        );
    }

    #[test]
    fn witnesses() {
        let w = |name: &str, key: &str| format!("[[witness]]\nname = \"{name}\"\nkey = \"{key}\"\n");
        assert_eq!(Policy::from_toml(&w("a b", &key_hex(1))), Err(PolicyError::BadWitnessName("a b".into())));
        assert_eq!(Policy::from_toml(&w("a+b", &key_hex(1))), Err(PolicyError::BadWitnessName("a+b".into())));
        assert_eq!(Policy::from_toml(&w("", &key_hex(1))), Err(PolicyError::BadWitnessName(String::new())));
        for bad in ["zz".repeat(32), "00".repeat(31), key_hex(1).to_uppercase() + "00"] {
            assert_eq!(
                Policy::from_toml(&w("a", &bad)),
                Err(PolicyError::BadWitnessKey { name: "a".into() })
            );
        }
        // Upper-case hex is a valid encoding of the same key.
        assert!(Policy::from_toml(&w("a", &key_hex(1).to_uppercase())).is_ok());
        let two_names = w("a", &key_hex(1)) + &w("a", &key_hex(2));
        assert_eq!(Policy::from_toml(&two_names), Err(PolicyError::DuplicateWitness("a".into())));
        let two_keys = w("a", &key_hex(1)) + &w("b", &key_hex(1));
        assert_eq!(Policy::from_toml(&two_keys), Err(PolicyError::DuplicateWitness("b".into())));
        let misplaced = w("a", &key_hex(1)) + "required_witnesses = 0\n";
        // TOML: a bare key after a table header belongs to the table; put it first.
        assert!(matches!(Policy::from_toml(&misplaced), Err(PolicyError::Malformed(_))));
        let listed = "required_witnesses = 0\n".to_owned() + &w("a", &key_hex(1)) + &w("b", &key_hex(2));
        let p = policy(&listed);
        assert_eq!(p.witnesses().len(), 2);
        assert_eq!(p.required_witnesses(), 0);
    }

    #[test]
    fn sigstore_rules_are_read_strictly_and_the_first_match_decides() {
        let rule = |ns: &str, mode: &str, rest: &str| {
            format!("[[sigstore]]\nnamespace = \"{ns}\"\nmode = \"{mode}\"\n{rest}")
        };
        let id =
            "issuer = \"https://token.actions.githubusercontent.com\"\nsan = \"https://github.com/acme/*\"\n";
        let p = policy(&(rule("acme/tool-*", "require", id) + &rule("acme/*", "ignore", "")));
        assert_eq!(p.sigstore_rule("acme/tool-1").map(|r| r.mode), Some(SigstoreMode::Require));
        assert_eq!(p.sigstore_rule("acme/other").map(|r| r.mode), Some(SigstoreMode::Ignore));
        assert_eq!(p.sigstore_rule("beta/x"), None);
        let r = p.sigstore_rule("acme/tool-1").unwrap();
        assert_eq!(
            (r.issuer.as_str(), r.san.as_str()),
            ("https://token.actions.githubusercontent.com", "https://github.com/acme/*")
        );
        // require and verify-if-present need both issuer and san; ignore takes neither.
        for (mode, rest) in [
            ("require", ""),
            ("require", "issuer = \"i\"\n"),
            ("verify-if-present", "san = \"s\"\n"),
            ("require", "issuer = \"\"\nsan = \"s\"\n"),
            ("ignore", "issuer = \"i\"\n"),
        ] {
            let e = Policy::from_toml(&rule("acme/*", mode, rest)).unwrap_err();
            assert!(matches!(e, PolicyError::BadSigstoreRule { .. }), "{mode} {rest}: {e}");
        }
        assert!(matches!(Policy::from_toml(&rule("", "ignore", "")), Err(PolicyError::EmptyPattern { .. })));
        assert!(matches!(
            Policy::from_toml(&rule("acme/*", "sometimes", id)),
            Err(PolicyError::Malformed(_))
        ));
        assert!(matches!(
            Policy::from_toml(&(rule("acme/*", "require", id) + "extra = 1\n")),
            Err(PolicyError::Malformed(_))
        ));
    }

    #[test]
    fn required_witnesses_may_not_exceed_the_listed() {
        let w = |name: &str, key: &str| format!("[[witness]]\nname = \"{name}\"\nkey = \"{key}\"\n");
        let two = w("a", &key_hex(1)) + &w("b", &key_hex(2));
        for (required, witnesses, listed) in [(1, String::new(), 0), (3, two.clone(), 2)] {
            let text = format!("required_witnesses = {required}\n{witnesses}");
            assert_eq!(
                Policy::from_toml(&text),
                Err(PolicyError::TooManyRequiredWitnesses { required, listed }),
                "{text}"
            );
        }
        assert_eq!(policy(&format!("required_witnesses = 2\n{two}")).required_witnesses(), 2);
        // The witness entries are checked first: a bad one is named.
        let bad = format!("required_witnesses = 1\n{}", w("a b", &key_hex(1)));
        assert_eq!(Policy::from_toml(&bad), Err(PolicyError::BadWitnessName("a b".into())));
        // Zero, written or not, is accepted; the log is required unless turned off.
        assert_eq!(policy("required_witnesses = 0"), Policy::default());
        assert!(Policy::default().require_log());
        assert!(!policy("require_log = false").require_log());
    }

    #[test]
    fn witness_cosignatures_are_counted() {
        let signer = |s: u8| Ed25519Signer::new(ed25519_dalek::SigningKey::from_bytes(&[s; 32]));
        let text = "origin\n1\nAAAA\n";
        let mut note = sign_note(text, "log", &signer(9)).unwrap();
        let p = policy(&format!(
            "required_witnesses = 1\n[[witness]]\nname = \"w1\"\nkey = \"{}\"\n[[witness]]\nname = \"w2\"\nkey = \"{}\"\n",
            key_hex(1),
            key_hex(2)
        ));
        let e = p.check_witnesses(&note).unwrap_err();
        assert_eq!(e.rule, "required_witnesses");
        cosign(&mut note, "w2", &signer(2), Timestamp::from_unix(1_700_000_000)).unwrap();
        assert_eq!(p.check_witnesses(&note), Ok(1));
        // A cosignature under a listed name by another key is refused.
        let mut forged = sign_note(text, "log", &signer(9)).unwrap();
        cosign(&mut forged, "w1", &signer(3), Timestamp::from_unix(1_700_000_000)).unwrap();
        assert!(p.check_witnesses(&forged).is_err());
        assert_eq!(Policy::default().check_witnesses(&forged), Ok(0));
    }

    #[test]
    fn deny_namespaces_rule() {
        let p = policy("deny_namespaces = [\"acme/exp-*\"]");
        let e = p.check_target("acme/exp-1", &human()).unwrap_err();
        assert_eq!(e.rule, "deny_namespaces");
        assert_eq!(e.target.as_deref(), Some("acme/exp-1"));
        assert!(e.to_string().contains("deny_namespaces") && e.to_string().contains("acme/exp-1"), "{e}");
        assert!(p.check_target("acme/tool", &human()).is_ok());
        // `*` does not cross `/`.
        assert!(p.check_target("acme/exp-1/x", &human()).is_ok());
    }

    #[test]
    fn allow_namespaces_rule() {
        let p = policy("allow_namespaces = [\"acme/*\", \"beta/*\"]\ndeny_namespaces = [\"beta/bad\"]");
        assert!(p.check_target("acme/x", &human()).is_ok());
        assert!(p.check_target("beta/x", &human()).is_ok());
        assert_eq!(p.check_target("gamma/x", &human()).unwrap_err().rule, "allow_namespaces");
        // Deny wins over allow.
        assert_eq!(p.check_target("beta/bad", &human()).unwrap_err().rule, "deny_namespaces");
    }

    #[test]
    fn ai_generated_deny() {
        let p = policy("ai_generated = \"deny\"");
        let e = p.check_target("a/x", &ai(Some("alice"), Some("2026-06-01T00:00:00Z"))).unwrap_err();
        assert_eq!(e.rule, "ai_generated");
        assert!(p.check_target("a/x", &human()).is_ok());
        // No provenance object: not AI-generated.
        assert!(p.check_target("a/x", &file(None)).is_ok());
        assert!(p.check_target("a/x", &file(Some(json!({"other": 1})))).is_ok());
    }

    #[test]
    fn ai_generated_require_review() {
        let p = policy("ai_generated = \"require-review\"");
        assert!(p.check_target("a/x", &ai(Some("alice"), Some("2026-06-01T00:00:00Z"))).is_ok());
        assert_eq!(p.check_target("a/x", &ai(None, None)).unwrap_err().rule, "ai_generated");
        assert_eq!(p.check_target("a/x", &ai(Some("alice"), None)).unwrap_err().rule, "ai_generated");
        assert!(p.check_target("a/x", &human()).is_ok());
        assert!(p.check_target("a/x", &file(None)).is_ok());
    }

    #[test]
    fn malformed_provenance_refused_only_when_consulted() {
        let bad = file(Some(json!({"airlock": {"provenance": {"ai_generated": "yes"}}})));
        for rule in ["deny", "require-review"] {
            let e = policy(&format!("ai_generated = \"{rule}\"")).check_target("a/x", &bad).unwrap_err();
            assert_eq!(e.rule, "ai_generated");
            assert!(e.detail.contains("provenance"), "{e}");
        }
        assert!(policy("ai_generated = \"allow\"").check_target("a/x", &bad).is_ok());
    }

    #[test]
    fn max_metadata_age_rule() {
        let p = policy("max_metadata_age = \"1h\"\nclock_skew = \"5m\"");
        let now = t("2026-06-01T12:00:00Z");
        assert!(p.check_age(Some(t("2026-06-01T11:00:00Z")), now).is_ok());
        // Within age plus skew.
        assert!(p.check_age(Some(t("2026-06-01T10:55:00Z")), now).is_ok());
        let e = p.check_age(Some(t("2026-06-01T10:54:59Z")), now).unwrap_err();
        assert_eq!(e.rule, "max_metadata_age");
        assert_eq!(e.target, None);
        assert_eq!(p.check_age(None, now).unwrap_err().rule, "max_metadata_age");
    }

    #[test]
    fn clock_skew_rule() {
        let now = t("2026-06-01T12:00:00Z");
        for p in [policy(""), policy("max_metadata_age = \"1h\"")] {
            assert!(p.check_age(Some(t("2026-06-01T12:05:00Z")), now).is_ok());
            assert_eq!(p.check_age(Some(t("2026-06-01T12:05:01Z")), now).unwrap_err().rule, "clock_skew");
        }
    }

    #[test]
    fn effective_now_subtracts_the_skew() {
        let now = t("2026-06-01T12:00:00Z");
        assert_eq!(Policy::default().effective_now(now), t("2026-06-01T11:55:00Z"));
        assert_eq!(policy("clock_skew = \"0s\"").effective_now(now), now);
        assert_eq!(policy("clock_skew = \"1d\"").effective_now(now), t("2026-05-31T12:00:00Z"));
    }
}
