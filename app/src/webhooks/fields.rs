use leptos::prelude::*;

use crate::components::{escape_text, FieldError};
use crate::domain::{
    BodyType, EventFamily, EventType, FieldErrors, WebhookFormat, WebhookInput,
    MAX_DESCRIPTION_LEN, MAX_NAME_LEN,
};

const TEMPLATE_PLACEHOLDER: &str = "{\n  \"type\": {{ event }},\n  \"contact\": {\"name\": {{ data.invitee.name }}, \"email\": {{ data.invitee.email }}},\n  \"starts\": {{ (data.date ~ \" \" ~ data.time) }}\n}";

/// The inputs of the create and edit forms (the `<ActionForm>` around them is the page's).
/// `initial` is what the fields start with: the stored webhook, the defaults, or the user's
/// own input echoed back after a validation error.
#[component]
pub fn WebhookFields(
    initial: WebhookInput,
    #[prop(into)] errors: Signal<FieldErrors>,
) -> impl IntoView {
    let invalid =
        move |field: &'static str| move || errors.with(|e| e.get(field).is_some()).to_string();
    let boxes: Vec<(EventType, RwSignal<bool>)> = EventType::SUBSCRIBABLE
        .into_iter()
        .map(|t| {
            (
                t,
                RwSignal::new(initial.events.iter().any(|e| e == t.as_str())),
            )
        })
        .collect();
    // "Select all" needs JavaScript, so it only appears once the page is interactive.
    let interactive = RwSignal::new(false);
    Effect::new(move |_| interactive.set(true));

    let groups = EventFamily::ALL
        .into_iter()
        .map(|family| {
            let members: Vec<(EventType, RwSignal<bool>)> =
                boxes.iter().filter(|(t, _)| t.family() == Some(family)).copied().collect();
            let all = {
                let m = members.clone();
                Signal::derive(move || m.iter().all(|(_, s)| s.get()))
            };
            let toggle_all = {
                let m = members.clone();
                move |ev| {
                    let on = event_target_checked(&ev);
                    m.iter().for_each(|(_, s)| s.set(on));
                }
            };
            let key = family.key();
            view! {
                <fieldset class="event-group">
                    <legend>{family.label()}</legend>
                    <Show when=move || interactive.get()>
                        <label class="select-all">
                            <input type="checkbox" data-select-all=key prop:checked=all on:change=toggle_all.clone()/>
                            " Select all"
                        </label>
                    </Show>
                    {members
                        .into_iter()
                        .map(|(t, s)| {
                            view! {
                                <label class="event">
                                    <input type="checkbox" name="events[]" value=t.as_str()
                                        checked=s.get_untracked() prop:checked=s
                                        on:change=move |ev| s.set(event_target_checked(&ev))/>
                                    <span class="event-text">
                                        <code>{t.as_str()}</code>
                                        <span class="event-desc">{t.description()}</span>
                                    </span>
                                </label>
                            }
                        })
                        .collect_view()}
                </fieldset>
            }
        })
        .collect_view();

    // Pasting a Slack, Discord or Teams address picks that app's format, until the owner picks
    // one by hand (without JavaScript the owner picks it; the hint says which).
    let format = RwSignal::new(
        WebhookFormat::parse(&initial.format)
            .unwrap_or_default()
            .as_str()
            .to_string(),
    );
    let format_chosen = RwSignal::new(!initial.format.is_empty() && initial.format != "standard");
    let on_url = move |ev| {
        if format_chosen.get_untracked() {
            return;
        }
        let url = event_target_value(&ev);
        format.set(
            WebhookFormat::detect(&url)
                .unwrap_or_default()
                .as_str()
                .to_string(),
        );
    };
    let initial_format = format.get_untracked();
    let initial_type = BodyType::parse(&initial.content_type).unwrap_or_default();
    let body_types = BodyType::ALL
        .into_iter()
        .map(|t| {
            view! {
                <option value=t.as_str() selected=initial_type == t>{t.label()}</option>
            }
        })
        .collect_view();
    let format_options = WebhookFormat::ALL
        .into_iter()
        .map(|f| {
            view! {
                <option value=f.as_str() selected=initial_format == f.as_str()>{f.label()}</option>
            }
        })
        .collect_view();

    view! {
        <div class="field">
            <label for="name">"Name"</label>
            <input id="name" name="name" type="text" required maxlength=MAX_NAME_LEN.to_string()
                placeholder="CRM sync" value=initial.name aria-invalid=invalid("name") aria-describedby="name-error"/>
            <FieldError errors=errors field="name"/>
        </div>
        <div class="field">
            <label for="url">"URL"</label>
            <input id="url" name="url" type="url" required placeholder="https://example.com/webhooks/schedulingkit"
                value=initial.url aria-invalid=invalid("url") aria-describedby="url-hint url-error"
                on:input=on_url/>
            <p class="hint" id="url-hint">"Where we POST the events. HTTPS only."</p>
            <FieldError errors=errors field="url"/>
        </div>
        <div class="field">
            <label for="format">"Format"</label>
            <select id="format" name="format" prop:value=move || format.get()
                aria-invalid=invalid("format") aria-describedby="format-hint format-error"
                on:change=move |ev| {
                    format_chosen.set(true);
                    format.set(event_target_value(&ev));
                }>
                {format_options}
            </select>
            <p class="hint" id="format-hint">"Standard sends the JSON event, signed. For a Slack, Discord or Microsoft Teams incoming-webhook URL choose that app: it is sent a readable message about each event (still signed, with the same headers)."</p>
            <FieldError errors=errors field="format"/>
        </div>
        // Without JavaScript the template's fields are always there (the owner picks the format
        // by hand); once interactive they show for the Template format only.
        <fieldset class="field template-fields" data-testid="template-fields"
            hidden=move || interactive.get() && format.get() != WebhookFormat::Template.as_str()>
            <legend>"Template"</legend>
            <div class="field">
                <label for="content_type">"Content-Type"</label>
                <select id="content_type" name="content_type" aria-invalid=invalid("content_type")
                    aria-describedby="content_type-error">
                    {body_types}
                </select>
                <FieldError errors=errors field="content_type"/>
            </div>
            <div class="field">
                <label for="template">"Body template"</label>
                <textarea id="template" name="template" rows="8" spellcheck="false" autocomplete="off"
                    class="code" placeholder=TEMPLATE_PLACEHOLDER
                    aria-invalid=invalid("template") aria-describedby="template-hint template-error"
                    inner_html=escape_text(&initial.template)></textarea>
                <p class="hint" id="template-hint">"Sent with the format Template. Jinja syntax over "
                    <code>"event"</code> ", " <code>"timestamp"</code> " and the "
                    <a href="/settings/event-types">"event's"</a> " " <code>"data"</code>
                    ". For JSON each value prints as JSON, quotes included: write "
                    <code>"{{ data.invitee.name }}"</code> ", not " <code>"\"{{ data.invitee.name }}\""</code>
                    ". Checked when you save, against each subscribed event type's example."</p>
                <FieldError errors=errors field="template"/>
            </div>
        </fieldset>
        <div class="field">
            <label for="headers">"Custom headers " <span class="optional">"(optional)"</span></label>
            <textarea id="headers" name="headers" rows="2" spellcheck="false" autocomplete="off"
                placeholder="Authorization: Bearer your-crm-token"
                aria-invalid=invalid("headers") aria-describedby="headers-hint headers-error"
                inner_html=escape_text(&initial.headers)></textarea>
            <p class="hint" id="headers-hint">"One " <code>"Name: value"</code>
                " per line, at most 20, sent with every request (for APIs that want a token). Values are stored encrypted and shown as "
                <code>"***"</code> "; leave " <code>"***"</code> " to keep a stored value."</p>
            <FieldError errors=errors field="headers"/>
        </div>
        <div class="field">
            <label for="filter">"Filter " <span class="optional">"(optional)"</span></label>
            <input id="filter" name="filter" type="text" spellcheck="false" autocomplete="off"
                placeholder="data.event_type == \"sales-demo\" and data.duration >= 30"
                value=initial.filter aria-invalid=invalid("filter")
                aria-describedby="filter-hint filter-error"/>
            <p class="hint" id="filter-hint">"Only events this expression matches are sent (Jinja syntax over "
                <code>"event"</code> " and the " <a href="/settings/event-types">"event's"</a> " "
                <code>"data"</code> "). Empty: every subscribed event."</p>
            <FieldError errors=errors field="filter"/>
        </div>
        <fieldset class="field events" aria-describedby="events-error">
            <legend>"Events"</legend>
            <p class="hint">"Choose what this webhook is sent (" <a href="/settings/event-types">"what each event carries"</a> "). "
                <code>"webhook.test"</code> " is never subscribed to: it is sent when you click Send test event."</p>
            <div class="event-groups">{groups}</div>
            <FieldError errors=errors field="events"/>
        </fieldset>
        <div class="field inline">
            <label class="toggle">
                <input type="checkbox" name="active" value="true" checked=initial.active/>
                " Active"
            </label>
            <p class="hint">"A paused webhook is sent nothing."</p>
        </div>
        <div class="field inline">
            <label class="toggle">
                <input type="checkbox" name="ordered" value="true" checked=initial.ordered
                    aria-describedby="ordered-hint"/>
                " Deliver in order per key"
            </label>
            <p class="hint" id="ordered-hint">"Events about the same booking (the same "
                <code>"key"</code>", by default " <code>"data.id"</code>
                ") are sent one at a time, in the order they were published. A delivery waiting for a retry holds back only later events of its own key."</p>
        </div>
        <div class="field-row">
            <div class="field">
                <label for="timeout_secs">"Timeout (seconds)"</label>
                <input id="timeout_secs" name="timeout_secs" type="number" min="1" max="300" step="1"
                    value=initial.timeout_secs aria-invalid=invalid("timeout_secs")
                    aria-describedby="timeout_secs-hint timeout_secs-error"/>
                <p class="hint" id="timeout_secs-hint">"1–300. How long we wait for your endpoint."</p>
                <FieldError errors=errors field="timeout_secs"/>
            </div>
            <div class="field">
                <label for="retry_attempts">"Retry attempts"</label>
                <input id="retry_attempts" name="retry_attempts" type="number" min="0" max="10" step="1"
                    value=initial.retry_attempts aria-invalid=invalid("retry_attempts")
                    aria-describedby="retry_attempts-hint retry_attempts-error"/>
                <p class="hint" id="retry_attempts-hint">"0–10. Retries after a failed or timed-out try."</p>
                <FieldError errors=errors field="retry_attempts"/>
            </div>
        </div>
        <div class="field">
            <label for="description">"Description " <span class="optional">"(optional)"</span></label>
            // The text as the element's escaped content: raw children would be written into
            // the page unescaped (see `components::text`).
            <textarea id="description" name="description" rows="2" maxlength=MAX_DESCRIPTION_LEN.to_string()
                aria-invalid=invalid("description") aria-describedby="description-error"
                inner_html=escape_text(&initial.description)></textarea>
            <FieldError errors=errors field="description"/>
        </div>
    }
}
