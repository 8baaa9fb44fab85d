use leptos::prelude::*;
use leptos_meta::Title;

use super::{
    list_api_keys, take_new_api_key, ApiKeySummary, CreateApiKey, NewApiKey, RevokeApiKey,
};
use crate::components::{errors_of, format_time, ErrorNotice, FieldError, FormError};
use crate::domain::ApiScope;

#[component]
pub fn ApiKeysPage() -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let errors = errors_of(create);
    let keys = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_api_keys(),
    );
    let stashed = Resource::new(|| (), |_| take_new_api_key());
    let new_key = move || {
        create
            .value()
            .get()
            .and_then(Result::ok)
            .or_else(|| stashed.get().and_then(Result::ok).flatten())
    };
    view! {
        <Title text="API keys · SchedulingKit"/>
        <div class="page-head">
            <div>
                <h1>"API keys"</h1>
                <p class="lede">"Your scheduling app publishes events with " <code>"POST /api/v1/events"</code>
                    " and a key from this page: " <code>"Authorization: Bearer skw_…"</code></p>
            </div>
        </div>
        <section class="card">
            <h2>"Create a key"</h2>
            <ActionForm action=create>
                <FormError errors=errors/>
                <div class="field inline-form">
                    <label for="key-name">"Name"</label>
                    <input id="key-name" name="name" type="text" maxlength="100" placeholder="Production booking app"/>
                </div>
                <FieldError errors=errors field="name"/>
                <fieldset class="event-group key-scopes" aria-describedby="scopes-error">
                    <legend>"Scopes: what the key may do"</legend>
                    {ApiScope::ALL
                        .into_iter()
                        .map(|s| {
                            view! {
                                <label class="event">
                                    <input type="checkbox" name="scopes[]" value=s.as_str() checked=true/>
                                    <span class="event-text">
                                        <code>{s.as_str()}</code>
                                        <span class="event-desc">{s.description()}</span>
                                    </span>
                                </label>
                            }
                        })
                        .collect_view()}
                </fieldset>
                <FieldError errors=errors field="scopes"/>
                <div class="actions compact">
                    <button type="submit" class="primary">"Create key"</button>
                </div>
            </ActionForm>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let _ = stashed.await;
                    new_key().map(|k| view! { <NewKeyNotice key=k/> })
                })}
            </Transition>
        </section>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match keys.await {
                    Ok(list) if list.is_empty() => view! {
                        <p class="empty-state small">"No keys yet."</p>
                    }
                    .into_any(),
                    Ok(list) => view! { <KeyTable list=list revoke=revoke/> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e missing="API key"/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn NewKeyNotice(key: NewApiKey) -> impl IntoView {
    view! {
        <div class="notice success" role="status">
            <p><strong>"Copy your new key “" {key.name} "” now."</strong>" It will not be shown again."</p>
            <code class="secret" data-testid="new-api-key">{key.key}</code>
            <p class="small">"Scopes: "
                {key.scopes.iter().map(|s| view! { <code>{s.as_str()}</code> " " }).collect_view()}
            </p>
        </div>
    }
}

#[component]
fn KeyTable(list: Vec<ApiKeySummary>, revoke: ServerAction<RevokeApiKey>) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="api-keys">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Key"</th>
                        <th scope="col">"Scopes"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col">"Last used"</th>
                        <th scope="col">"Status"</th>
                    </tr>
                </thead>
                <tbody>
                    {list
                        .into_iter()
                        .map(|k| {
                            let id = k.id.to_string();
                            view! {
                                <tr>
                                    <td>{k.name}</td>
                                    <td><code>{k.prefix} "…"</code></td>
                                    <td class="key-scopes">
                                        {k.scopes
                                            .iter()
                                            .map(|s| view! { <code>{s.as_str()}</code> " " })
                                            .collect_view()}
                                    </td>
                                    <td>{format_time(k.created_at)}</td>
                                    <td>{k.last_used_at.map(format_time).unwrap_or_else(|| "Never".into())}</td>
                                    <td>
                                        {match k.revoked_at {
                                            Some(t) => view! { <span class="badge paused">"Revoked " {format_time(t)}</span> }.into_any(),
                                            None => view! {
                                                <details class="inline-confirm">
                                                    <summary>"Revoke…"</summary>
                                                    <ActionForm action=revoke>
                                                        <input type="hidden" name="id" value=id/>
                                                        <button type="submit" class="danger small">"Revoke now"</button>
                                                    </ActionForm>
                                                </details>
                                            }
                                            .into_any(),
                                        }}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}
