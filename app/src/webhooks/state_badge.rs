//! A webhook's state as one badge, the same on the list and the edit page: **Active**;
//! **Disabled** when it was switched off automatically (it has a reason, shown as the badge's
//! title); **Paused** when its owner switched it off.

use leptos::prelude::*;

#[component]
pub fn WebhookStateBadge(active: bool, disabled_reason: Option<String>) -> impl IntoView {
    match (active, disabled_reason) {
        (true, _) => view! { <span class="badge active">"Active"</span> }.into_any(),
        (false, Some(reason)) => {
            view! { <span class="badge failed" title=reason>"Disabled"</span> }.into_any()
        }
        (false, None) => view! { <span class="badge paused">"Paused"</span> }.into_any(),
    }
}
