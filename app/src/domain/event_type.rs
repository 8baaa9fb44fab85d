use serde::{Deserialize, Serialize};
use std::fmt;

/// The 13 event types of the SchedulingKit contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "event.created")]
    EventCreated,
    #[serde(rename = "event.updated")]
    EventUpdated,
    #[serde(rename = "event.cancelled")]
    EventCancelled,
    #[serde(rename = "event.rescheduled")]
    EventRescheduled,
    #[serde(rename = "event.reminder")]
    EventReminder,
    #[serde(rename = "event.follow_up")]
    EventFollowUp,
    #[serde(rename = "booking.created")]
    BookingCreated,
    #[serde(rename = "booking.confirmed")]
    BookingConfirmed,
    #[serde(rename = "booking.cancelled")]
    BookingCancelled,
    #[serde(rename = "payment.completed")]
    PaymentCompleted,
    #[serde(rename = "payment.failed")]
    PaymentFailed,
    #[serde(rename = "payment.refunded")]
    PaymentRefunded,
    #[serde(rename = "webhook.test")]
    WebhookTest,
}

/// The groups the form shows the business events in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventFamily {
    Event,
    Booking,
    Payment,
}

impl EventFamily {
    pub const ALL: [EventFamily; 3] = [
        EventFamily::Event,
        EventFamily::Booking,
        EventFamily::Payment,
    ];

    pub fn key(self) -> &'static str {
        match self {
            EventFamily::Event => "event",
            EventFamily::Booking => "booking",
            EventFamily::Payment => "payment",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            EventFamily::Event => "Event lifecycle",
            EventFamily::Booking => "Bookings",
            EventFamily::Payment => "Payments",
        }
    }

    pub fn members(self) -> impl Iterator<Item = EventType> {
        EventType::SUBSCRIBABLE
            .into_iter()
            .filter(move |t| t.family() == Some(self))
    }
}

impl EventType {
    /// Every type, in the order of the contract.
    pub const ALL: [EventType; 13] = [
        EventType::EventCreated,
        EventType::EventUpdated,
        EventType::EventCancelled,
        EventType::EventRescheduled,
        EventType::EventReminder,
        EventType::EventFollowUp,
        EventType::BookingCreated,
        EventType::BookingConfirmed,
        EventType::BookingCancelled,
        EventType::PaymentCompleted,
        EventType::PaymentFailed,
        EventType::PaymentRefunded,
        EventType::WebhookTest,
    ];

    /// The 12 business events a webhook can subscribe to (`webhook.test` is sent on demand).
    pub const SUBSCRIBABLE: [EventType; 12] = [
        EventType::EventCreated,
        EventType::EventUpdated,
        EventType::EventCancelled,
        EventType::EventRescheduled,
        EventType::EventReminder,
        EventType::EventFollowUp,
        EventType::BookingCreated,
        EventType::BookingConfirmed,
        EventType::BookingCancelled,
        EventType::PaymentCompleted,
        EventType::PaymentFailed,
        EventType::PaymentRefunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::EventCreated => "event.created",
            EventType::EventUpdated => "event.updated",
            EventType::EventCancelled => "event.cancelled",
            EventType::EventRescheduled => "event.rescheduled",
            EventType::EventReminder => "event.reminder",
            EventType::EventFollowUp => "event.follow_up",
            EventType::BookingCreated => "booking.created",
            EventType::BookingConfirmed => "booking.confirmed",
            EventType::BookingCancelled => "booking.cancelled",
            EventType::PaymentCompleted => "payment.completed",
            EventType::PaymentFailed => "payment.failed",
            EventType::PaymentRefunded => "payment.refunded",
            EventType::WebhookTest => "webhook.test",
        }
    }

    /// When it fires, in the words of the contract.
    pub fn description(self) -> &'static str {
        match self {
            EventType::EventCreated => "A new event/booking is created",
            EventType::EventUpdated => "An event is updated (details changed)",
            EventType::EventCancelled => "An event is cancelled",
            EventType::EventRescheduled => "An event is rescheduled to a new time",
            EventType::EventReminder => "A reminder is triggered before the event",
            EventType::EventFollowUp => "A follow-up is triggered after the event",
            EventType::BookingCreated => "A booking is created (customer side)",
            EventType::BookingConfirmed => "A booking is confirmed",
            EventType::BookingCancelled => "A booking is cancelled",
            EventType::PaymentCompleted => "A payment is successfully processed",
            EventType::PaymentFailed => "A payment attempt failed",
            EventType::PaymentRefunded => "A payment is refunded",
            EventType::WebhookTest => "Test event for verifying your endpoint",
        }
    }

    pub fn family(self) -> Option<EventFamily> {
        match self {
            EventType::EventCreated
            | EventType::EventUpdated
            | EventType::EventCancelled
            | EventType::EventRescheduled
            | EventType::EventReminder
            | EventType::EventFollowUp => Some(EventFamily::Event),
            EventType::BookingCreated
            | EventType::BookingConfirmed
            | EventType::BookingCancelled => Some(EventFamily::Booking),
            EventType::PaymentCompleted | EventType::PaymentFailed | EventType::PaymentRefunded => {
                Some(EventFamily::Payment)
            }
            EventType::WebhookTest => None,
        }
    }

    /// Parses a type name exactly as the contract spells it.
    pub fn parse(name: &str) -> Result<EventType, String> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == name)
            .ok_or_else(|| {
                format!(
                    "Unknown event type \"{}\". Known types: {}.",
                    truncate(name, 64),
                    EventType::ALL.map(EventType::as_str).join(", ")
                )
            })
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// A set of subscribable event types (never `webhook.test`), at least one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSet(u16);

impl EventSet {
    /// Parses submitted names: unknown names and `webhook.test` are errors; duplicates are fine.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<EventSet, String> {
        let mut set = EventSet(0);
        for name in names {
            let name = name.as_ref().trim();
            let t = EventType::parse(name)?;
            if t == EventType::WebhookTest {
                return Err(
                    "webhook.test cannot be subscribed to: it is sent with “Send test event”."
                        .into(),
                );
            }
            set.0 |= t.bit();
        }
        if set.0 == 0 {
            return Err("Choose at least one event.".into());
        }
        Ok(set)
    }

    /// Reads the stored form (comma-separated); unknown names are ignored.
    pub fn from_stored(stored: &str) -> EventSet {
        let mut set = EventSet(0);
        for name in stored.split(',') {
            if let Ok(t) = EventType::parse(name) {
                if t != EventType::WebhookTest {
                    set.0 |= t.bit();
                }
            }
        }
        set
    }

    pub fn to_stored(self) -> String {
        self.iter()
            .map(EventType::as_str)
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn contains(self, t: EventType) -> bool {
        self.0 & t.bit() != 0
    }

    pub fn iter(self) -> impl Iterator<Item = EventType> {
        EventType::SUBSCRIBABLE
            .into_iter()
            .filter(move |t| self.contains(*t))
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_through_its_name() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Ok(t));
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{t}\""));
        }
        assert_eq!(EventType::ALL.len(), 13);
        assert_eq!(EventType::SUBSCRIBABLE.len(), 12);
    }

    #[test]
    fn unknown_and_near_miss_names_are_refused() {
        for bad in [
            "",
            "booking",
            "Booking.Created",
            "booking.created ",
            "event.followup",
        ] {
            assert!(EventType::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn event_sets_refuse_test_events_and_emptiness() {
        assert!(EventSet::parse(&["webhook.test"]).is_err());
        assert!(EventSet::parse::<&str>(&[]).is_err());
        assert!(EventSet::parse(&["nope"]).is_err());
        let set =
            EventSet::parse(&["payment.failed", "booking.created", "booking.created"]).unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set.to_stored(), "booking.created,payment.failed");
        assert_eq!(EventSet::from_stored(&set.to_stored()), set);
        assert!(set.contains(EventType::PaymentFailed));
        assert!(!set.contains(EventType::PaymentCompleted));
    }

    #[test]
    fn families_partition_the_business_events() {
        let total: usize = EventFamily::ALL.iter().map(|f| f.members().count()).sum();
        assert_eq!(total, 12);
        assert_eq!(EventFamily::Booking.members().count(), 3);
    }
}
