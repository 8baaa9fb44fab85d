//! The checks a publish needs no database for: `data` is an object, an idempotency key is
//! well formed, and a key repeated inside one batch is the same event (or refused).

use std::collections::HashMap;

use super::{Answer, PublishError, PublishRequest, MAX_IDEMPOTENCY_KEY_LEN};
use crate::domain::AccountId;

/// What is left to do for a batch once the checks have answered the requests they refuse.
#[derive(Debug, Default)]
pub(super) struct Plan<'a> {
    /// Requests to write (indices into the batch), in order.
    pub to_write: Vec<usize>,
    /// A repeat of an idempotency key inside the batch, and the index of its first use: it
    /// gets the first one's answer.
    pub repeats: Vec<(usize, usize)>,
    /// The keys of `to_write`'s requests that carry one.
    pub keys: HashMap<usize, (AccountId, &'a str)>,
}

/// Answers the requests that fail a check (in `answers`) and plans the others.
pub(super) fn plan<'a>(reqs: &'a [PublishRequest], answers: &mut [Answer]) -> Plan<'a> {
    let mut plan = Plan::default();
    let mut first_use: HashMap<(AccountId, &str), usize> = HashMap::new();
    for (i, req) in reqs.iter().enumerate() {
        if !req.data.is_object() {
            answers[i] = Some(Err(PublishError::DataNotObject));
            continue;
        }
        if let Some(key) = req.idempotency_key.as_deref() {
            if !valid_key(key) {
                answers[i] = Some(Err(PublishError::BadIdempotencyKey));
                continue;
            }
            if let Some(&first) = first_use.get(&(req.account_id, key)) {
                if same_event(&reqs[first], req) {
                    plan.repeats.push((i, first));
                } else {
                    answers[i] = Some(Err(PublishError::IdempotencyKeyReused));
                }
                continue;
            }
            first_use.insert((req.account_id, key), i);
            plan.keys.insert(i, (req.account_id, key));
        }
        plan.to_write.push(i);
    }
    plan
}

/// Two requests with the same idempotency key are the same event: same type, data, schedule
/// and key.
fn same_event(a: &PublishRequest, b: &PublishRequest) -> bool {
    a.event_type == b.event_type
        && a.data == b.data
        && a.deliver_at == b.deliver_at
        && a.effective_key() == b.effective_key()
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_IDEMPOTENCY_KEY_LEN
        && key.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EventType;
    use crate::queue::Targets;
    use serde_json::json;

    fn req(account: i64, key: Option<&str>, data: serde_json::Value) -> PublishRequest {
        PublishRequest {
            idempotency_key: key.map(str::to_string),
            ..PublishRequest::now(
                AccountId(account),
                EventType::BookingCreated,
                data,
                Targets::Subscribed,
            )
        }
    }

    #[test]
    fn checks_answer_bad_requests_and_plan_the_rest() {
        let reqs = vec![
            req(1, Some("k"), json!({"a": 1})),
            req(1, None, json!([1])),
            req(1, Some("k"), json!({"a": 1})),
            req(1, Some("k"), json!({"a": 2})),
            req(2, Some("k"), json!({"a": 2})),
            req(1, Some("\u{7f}"), json!({})),
        ];
        let mut answers: Vec<Answer> = (0..reqs.len()).map(|_| None).collect();
        let plan = plan(&reqs, &mut answers);
        assert_eq!(plan.to_write, vec![0, 4]);
        assert_eq!(plan.repeats, vec![(2, 0)]);
        assert_eq!(plan.keys.len(), 2);
        assert!(matches!(answers[1], Some(Err(PublishError::DataNotObject))));
        assert!(matches!(
            answers[3],
            Some(Err(PublishError::IdempotencyKeyReused))
        ));
        assert!(matches!(
            answers[5],
            Some(Err(PublishError::BadIdempotencyKey))
        ));
    }
}
