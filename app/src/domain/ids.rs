//! Row ids as their own types: a webhook's id is not an account's, so passing one where the
//! other belongs — or swapping two arguments — does not compile. Each wraps the column's type
//! (`i64` keys, UUIDv7 for events and deliveries) and is stored as it (SeaORM
//! `DeriveValueType`); in JSON and forms it is the bare number or string.
//!
//! The integer ids compile for the browser too (the pages' models carry them); the UUID ones are
//! server-only, as the `uuid` crate is.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! int_id {
    ($($(#[$doc:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "ssr", derive(sea_orm::DeriveValueType))]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }

        #[cfg(feature = "ssr")]
        impl sea_orm::TryFromU64 for $name {
            fn try_from_u64(n: u64) -> Result<Self, sea_orm::DbErr> {
                <i64 as sea_orm::TryFromU64>::try_from_u64(n).map($name)
            }
        }
    )+};
}

int_id!(
    /// An account: the tenant every webhook, event, delivery and API key belongs to.
    AccountId,
    /// A user who signs in to an account.
    UserId,
    /// A webhook (an endpoint an account's events are sent to).
    WebhookId,
    /// An API key of an account.
    ApiKeyId,
    /// An alert incident of a webhook (`alert_incidents`).
    IncidentId,
);

#[cfg(feature = "ssr")]
macro_rules! uuid_id {
    ($($(#[$doc:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
            sea_orm::DeriveValueType,
        )]
        #[serde(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// A new, time-ordered id (UUIDv7).
            pub fn new() -> Self {
                $name(uuid::Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }

        impl sea_orm::TryFromU64 for $name {
            fn try_from_u64(n: u64) -> Result<Self, sea_orm::DbErr> {
                <uuid::Uuid as sea_orm::TryFromU64>::try_from_u64(n).map($name)
            }
        }
    )+};
}

#[cfg(feature = "ssr")]
uuid_id!(
    /// An event an account published (once, whatever the number of its deliveries).
    EventId,
    /// One event's delivery to one webhook; sent as `X-Webhook-Delivery-Id`.
    DeliveryId,
);

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn ids_are_their_bare_values_in_json_and_text() {
        assert_eq!(serde_json::to_string(&WebhookId(7)).unwrap(), "7");
        assert_eq!(
            serde_json::from_str::<AccountId>("12").unwrap(),
            AccountId(12)
        );
        assert_eq!("42".parse::<WebhookId>().unwrap(), WebhookId(42));
        let d = DeliveryId::new();
        assert_eq!(d.to_string().parse::<DeliveryId>().unwrap(), d);
    }
}
