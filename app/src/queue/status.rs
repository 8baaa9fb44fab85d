use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Where a delivery stands (the `deliveries.status` column). A pending delivery is waiting for
/// its next try, or is in flight (see [`crate::queue::lifecycle`]); the two others are final.
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
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "succeeded" => Some(DeliveryStatus::Succeeded),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
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
}

impl AttemptTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptTrigger::Auto => "auto",
            AttemptTrigger::Manual => "manual",
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
    }
}
