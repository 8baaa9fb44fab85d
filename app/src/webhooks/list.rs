use leptos::prelude::*;
use leptos_meta::Title;

use super::{list_webhooks, WebhookSummary};
use crate::components::{format_time, ErrorNotice};

#[component]
pub fn WebhookListPage() -> impl IntoView {
    let webhooks = Resource::new(|| (), |_| list_webhooks());
    view! {
        <Title text="Webhooks · SchedulingKit"/>
        <div class="page-head">
            <div>
                <h1>"Webhooks"</h1>
                <p class="lede">
                    "Get a signed POST at your own endpoint whenever a booking, an event or a payment changes."
                </p>
            </div>
            <a class="button primary" href="/settings/webhooks/create">"New webhook"</a>
        </div>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match webhooks.await {
                    Ok(list) if list.is_empty() => view! { <EmptyState/> }.into_any(),
                    Ok(list) => view! { <WebhookTable list=list/> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn EmptyState() -> impl IntoView {
    view! {
        <div class="empty-state">
            <h2>"No webhooks yet"</h2>
            <p>"Send booking, event and payment notifications to your CRM, Slack, Zapier or your own server."</p>
            <a class="button primary" href="/settings/webhooks/create">"Create your first webhook"</a>
        </div>
    }
}

#[component]
fn WebhookTable(list: Vec<WebhookSummary>) -> impl IntoView {
    view! {
        <table class="webhooks">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"URL"</th>
                    <th scope="col">"Events"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Created"</th>
                </tr>
            </thead>
            <tbody>
                {list
                    .into_iter()
                    .map(|w| {
                        let shown: Vec<String> = w.events.iter().take(3).cloned().collect();
                        let more = w.events.len().saturating_sub(3);
                        view! {
                            <tr data-webhook-id=w.id.to_string()>
                                <td class="name">
                                    <a href=format!("/settings/webhooks/{}/edit", w.id)>{w.name}</a>
                                </td>
                                <td class="url"><code title=w.url.clone()>{w.url.clone()}</code></td>
                                <td class="events">
                                    {shown.into_iter().map(|e| view! { <span class="chip">{e}</span> }).collect_view()}
                                    {(more > 0).then(|| view! { <span class="chip more">{format!("+{more}")}</span> })}
                                </td>
                                <td>
                                    {if w.active {
                                        view! { <span class="badge active">"Active"</span> }.into_any()
                                    } else {
                                        view! { <span class="badge paused">"Paused"</span> }.into_any()
                                    }}
                                </td>
                                <td class="created">{format_time(w.created_at)}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
