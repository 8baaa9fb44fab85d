use leptos::prelude::*;

use super::format_time;
use crate::deliveries::DeliveryRow;

/// A delivery's status, with when the next try is due while it is pending (or, scheduled, when
/// it will be sent).
#[component]
pub fn StatusBadge(row: DeliveryRow) -> impl IntoView {
    match row.status.as_str() {
        "succeeded" => view! { <span class="badge active">"Succeeded"</span> }.into_any(),
        "failed" => view! { <span class="badge failed">"Failed"</span> }.into_any(),
        "cancelled" => view! { <span class="badge paused">"Cancelled"</span> }.into_any(),
        "scheduled" => view! {
            <span class="badge scheduled">"Scheduled"</span>
            {row.deliver_at.map(|t| view! { <span class="hint">" for " {format_time(t)}</span> })}
        }
        .into_any(),
        "held" => view! { <span class="badge paused" title="Kept while the webhook is paused">"Held"</span> }.into_any(),
        _ if row.in_flight => view! { <span class="badge pending">"Sending…"</span> }.into_any(),
        _ => view! {
            <span class="badge pending">"Pending"</span>
            {row.next_attempt_at.map(|t| view! { <span class="hint">" next try " {format_time(t)}</span> })}
        }
        .into_any(),
    }
}
