//! `/settings/event-types`: the event catalog as a page (linked from the webhook forms), with
//! each type's description, an example event as delivered, and the JSON Schema of its `data`.
//! The catalog (`domain::catalog`) stays on the server: the page reads it through a server
//! function, so the browser bundle does not carry it.

use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use crate::components::ErrorNotice;
use crate::error::AppError;

#[cfg(feature = "ssr")]
pub mod samples;

/// One event type as the page shows it (the JSON already pretty-printed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEntry {
    pub name: String,
    pub description: String,
    pub example: String,
    pub schema: String,
}

#[server(prefix = "/fn", endpoint = "event-types/list")]
pub async fn event_catalog() -> Result<Vec<CatalogEntry>, AppError> {
    use crate::domain::{catalog, EventType};
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
    Ok(EventType::ALL
        .into_iter()
        .map(|t| CatalogEntry {
            name: t.as_str().to_string(),
            description: t.description().to_string(),
            example: pretty(&catalog::example_event(t)),
            schema: pretty(&catalog::schema(t)),
        })
        .collect())
}

#[component]
pub fn EventTypesPage() -> impl IntoView {
    let entries = Resource::new(|| (), |_| event_catalog());
    view! {
        <Title text="Event types · SchedulingKit"/>
        <div class="page-head">
            <div>
                <h1>"Event types"</h1>
                <p class="lede">"What each event means and what its " <code>"data"</code>
                    " carries. Fields may be added over time: accept fields you do not know. The same catalog is served at "
                    <code>"GET /api/v1/event-types"</code> "."</p>
            </div>
        </div>
        <Suspense fallback=|| view! { <p class="hint">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match entries.await {
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    Ok(list) => list
                        .into_iter()
                        .map(|c| {
                            let anchor = c.name.replace('.', "-");
                            let heading = format!("{anchor}-title");
                            let labelled_by = heading.clone();
                            view! {
                                <section class="card event-type" id=anchor aria-labelledby=labelled_by>
                                    <h2 id=heading><code>{c.name}</code></h2>
                                    <p>{c.description}</p>
                                    <h3>"Example"</h3>
                                    <pre class="body">{c.example}</pre>
                                    <details>
                                        <summary>"JSON Schema of " <code>"data"</code></summary>
                                        <pre class="body">{c.schema}</pre>
                                    </details>
                                </section>
                            }
                        })
                        .collect_view()
                        .into_any(),
                }
            })}
        </Suspense>
    }
}
