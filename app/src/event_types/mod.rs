//! `/settings/event-types`: the event catalog as a page (linked from the webhook forms), with
//! each type's description, an example event as delivered, and the JSON Schema of its `data`.
//! The catalog is pure data (`domain::catalog`), so the page needs no server call.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::domain::{catalog, EventType};

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

#[component]
pub fn EventTypesPage() -> impl IntoView {
    let rows = EventType::ALL
        .into_iter()
        .map(|t| {
            let anchor = t.as_str().replace('.', "-");
            let heading = format!("{anchor}-title");
            let labelled_by = heading.clone();
            view! {
                <section class="card event-type" id=anchor aria-labelledby=labelled_by>
                    <h2 id=heading><code>{t.as_str()}</code></h2>
                    <p>{t.description()}</p>
                    <h3>"Example"</h3>
                    <pre class="body">{pretty(&catalog::example_event(t))}</pre>
                    <details>
                        <summary>"JSON Schema of " <code>"data"</code></summary>
                        <pre class="body">{pretty(&catalog::schema(t))}</pre>
                    </details>
                </section>
            }
        })
        .collect_view();
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
        {rows}
    }
}

#[cfg(feature = "ssr")]
pub mod samples;
