use leptos::prelude::*;
use leptos_meta::Title;

use super::{get_alert_settings, AlertSettings, SaveAlertSettings};
use crate::components::{errors_of, ErrorNotice, FieldError, FormError};

/// `/settings/account`: the account's alert channels — e-mail to its users, and an alert
/// webhook (signed like every delivery, with its own secret) — each with its switch.
#[component]
pub fn AccountSettingsPage() -> impl IntoView {
    let save = ServerAction::<SaveAlertSettings>::new();
    let errors = errors_of(save);
    let settings = Resource::new(move || save.version().get(), |_| get_alert_settings());
    view! {
        <Title text="Account · SchedulingKit"/>
        <div class="page-head">
            <div>
                <h1>"Account"</h1>
                <p class="lede">"Where you are told when a webhook keeps failing or is paused automatically."</p>
            </div>
        </div>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match settings.await {
                    Ok(s) => view! { <AlertForm s=s save=save errors=errors/> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn AlertForm(
    s: AlertSettings,
    save: ServerAction<SaveAlertSettings>,
    errors: Signal<crate::domain::FieldErrors>,
) -> impl IntoView {
    let saved = move || save.value().get().is_some_and(|r| r.is_ok());
    let recipients = s.recipients.join(", ");
    view! {
        <section class="card">
            <h2>"Alerts"</h2>
            <p class="hint">
                "Alerts are sent once per incident: when every delivery of a webhook has failed for half the time "
                "after which it would be paused, and when it is paused automatically. An incident ends when the "
                "webhook succeeds again or is re-enabled. The webhook list always shows open alerts."
            </p>
            <ActionForm action=save>
                <FormError errors=errors/>
                <div class="field checkbox">
                    <label>
                        <input type="checkbox" name="mail" value="on" checked=s.mail/>
                        " E-mail the account's users"
                    </label>
                    <p class="hint">{format!("To: {recipients}. Sent when the server has an SMTP server configured.")}</p>
                </div>
                <div class="field">
                    <label for="hook-url">"Alert webhook URL"</label>
                    <input id="hook-url" name="hook_url" type="url" maxlength="2048"
                        placeholder="https://example.com/alerts" value=s.hook_url.clone().unwrap_or_default()
                        aria-describedby="hook_url-error"/>
                    <FieldError errors=errors field="hook_url"/>
                    <p class="hint">
                        "Gets a POST with the event " <code>"webhook.failing"</code> " or " <code>"webhook.disabled"</code>
                        ", signed like every delivery. Leave empty for none."
                    </p>
                </div>
                <div class="field checkbox">
                    <label>
                        <input type="checkbox" name="hook" value="on" checked=s.hook/>
                        " Send alerts to the alert webhook"
                    </label>
                </div>
                <button type="submit" class="primary">"Save alert settings"</button>
                {move || saved().then(|| view! { <p class="notice success" role="status">"Saved."</p> })}
            </ActionForm>
            {s.hook_secret.map(|secret| view! {
                <div class="field">
                    <p>"Signing secret of the alert webhook:"</p>
                    <code class="secret" data-testid="alert-hook-secret">{secret}</code>
                </div>
            })}
        </section>
    }
}
