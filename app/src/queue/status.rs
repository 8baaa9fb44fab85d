use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Where a delivery stands (the `deliveries.status` column). A pending delivery is waiting for
/// its next try (or, scheduled, for its first), or is in flight (see
/// [`crate::queue::lifecycle`]); succeeded, failed and cancelled are final; a held one was
/// published while its webhook was paused and waits, not due, for the owner's choice on
/// re-enabling (send or discard). What the log and the API show is [`ShownStatus`], which
/// tells a scheduled delivery from the other pending ones.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, EnumIter, DeriveActiveEnum,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "succeeded")]
    Succeeded,
    #[sea_orm(string_value = "failed")]
    Failed,
    /// Cancelled before it was delivered (its event was cancelled): nothing more is sent.
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
    /// Kept for a paused webhook; not sent until it is re-enabled with "send".
    #[sea_orm(string_value = "held")]
    Held,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Cancelled => "cancelled",
            DeliveryStatus::Held => "held",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "succeeded" => Some(DeliveryStatus::Succeeded),
            "failed" => Some(DeliveryStatus::Failed),
            "cancelled" => Some(DeliveryStatus::Cancelled),
            "held" => Some(DeliveryStatus::Held),
            _ => None,
        }
    }
}

/// A delivery's status as the log and the API show it: the stored [`DeliveryStatus`], with a
/// pending delivery whose first try is not due yet shown as `scheduled`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, EnumIter)]
#[serde(rename_all = "lowercase")]
pub enum ShownStatus {
    Scheduled,
    Pending,
    Succeeded,
    Failed,
    Cancelled,
    /// Kept while its webhook is paused.
    Held,
}

impl ShownStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ShownStatus::Scheduled => "scheduled",
            ShownStatus::Pending => "pending",
            ShownStatus::Succeeded => "succeeded",
            ShownStatus::Failed => "failed",
            ShownStatus::Cancelled => "cancelled",
            ShownStatus::Held => "held",
        }
    }

    pub fn parse(s: &str) -> Option<ShownStatus> {
        use sea_orm::Iterable;
        ShownStatus::iter().find(|v| v.as_str() == s)
    }

    /// Every value, for error messages: "scheduled, pending, …".
    pub fn names() -> String {
        use sea_orm::Iterable;
        ShownStatus::iter()
            .map(ShownStatus::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Why an attempt was made (the `attempts.trigger` column).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, EnumIter, DeriveActiveEnum,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "lowercase")]
pub enum AttemptTrigger {
    /// The schedule: the first try or an automatic retry.
    #[sea_orm(string_value = "auto")]
    Auto,
    /// A redelivery the owner asked for.
    #[sea_orm(string_value = "manual")]
    Manual,
    /// A bulk replay the owner asked for (one try, like a manual redelivery).
    #[sea_orm(string_value = "replay")]
    Replay,
}

impl AttemptTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptTrigger::Auto => "auto",
            AttemptTrigger::Manual => "manual",
            AttemptTrigger::Replay => "replay",
        }
    }
}

/// Why an attempt failed, as stored (the `attempts.error_kind` column; `NULL` for a success).
/// The dispatcher's `AttemptError` says which one a failure is.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, EnumIter, DeriveActiveEnum,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "lowercase")]
pub enum AttemptErrorKind {
    /// No complete answer within the webhook's timeout.
    #[sea_orm(string_value = "timeout")]
    Timeout,
    /// The host name does not resolve.
    #[sea_orm(string_value = "dns")]
    Dns,
    /// The TLS handshake failed.
    #[sea_orm(string_value = "tls")]
    Tls,
    /// No connection: refused, unreachable.
    #[sea_orm(string_value = "connect")]
    Connect,
    /// Refused before any connection (the address guard, an unusable secret).
    #[sea_orm(string_value = "blocked")]
    Blocked,
    /// A `3xx` answer (redirects are not followed).
    #[sea_orm(string_value = "redirect")]
    Redirect,
    /// Any other answer outside `2xx`.
    #[sea_orm(string_value = "status")]
    Status,
    /// The connection broke while sending or reading.
    #[sea_orm(string_value = "io")]
    Io,
}

impl AttemptErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptErrorKind::Timeout => "timeout",
            AttemptErrorKind::Dns => "dns",
            AttemptErrorKind::Tls => "tls",
            AttemptErrorKind::Connect => "connect",
            AttemptErrorKind::Blocked => "blocked",
            AttemptErrorKind::Redirect => "redirect",
            AttemptErrorKind::Status => "status",
            AttemptErrorKind::Io => "io",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ActiveEnum, Iterable};

    #[test]
    fn stored_values_are_the_names() {
        for s in DeliveryStatus::iter() {
            assert_eq!(s.to_value(), s.as_str());
            assert_eq!(DeliveryStatus::parse(s.as_str()), Some(s));
        }
        for t in AttemptTrigger::iter() {
            assert_eq!(t.to_value(), t.as_str());
        }
        for k in AttemptErrorKind::iter() {
            assert_eq!(k.to_value(), k.as_str());
        }
    }
}
