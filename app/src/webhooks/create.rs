use leptos::prelude::*;
use leptos_meta::Title;

use super::fields::WebhookFields;
use super::CreateWebhook;
use crate::components::{errors_of, FormError};
use crate::domain::{WebhookInput, DEFAULT_RETRY_ATTEMPTS, DEFAULT_TIMEOUT_SECS};

#[component]
pub fn CreateWebhookPage() -> impl IntoView {
    let action = ServerAction::<CreateWebhook>::new();
    let errors = errors_of(action);
    let initial = errors.with_untracked(|e| {
        if e.echo.is_empty() {
            WebhookInput {
                active: true,
                timeout_secs: DEFAULT_TIMEOUT_SECS.to_string(),
                retry_attempts: DEFAULT_RETRY_ATTEMPTS.to_string(),
                ..Default::default()
            }
        } else {
            WebhookInput::from_echo(e)
        }
    });
    view! {
        <Title text="New webhook · SchedulingKit"/>
        <nav class="breadcrumb" aria-label="Breadcrumb">
            <a href="/settings/webhooks">"Webhooks"</a>
            " / New webhook"
        </nav>
        <h1>"New webhook"</h1>
        <section class="card">
            <ActionForm action=action>
                <FormError errors=errors/>
                <WebhookFields initial=initial errors=errors/>
                <p class="hint">"A signing secret is generated for you when the webhook is created."</p>
                <div class="actions">
                    <button type="submit" class="primary" disabled=move || action.pending().get()>
                        {move || if action.pending().get() { "Creating…" } else { "Create webhook" }}
                    </button>
                    <a class="button" href="/settings/webhooks">"Cancel"</a>
                </div>
            </ActionForm>
        </section>
    }
}
