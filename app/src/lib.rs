#![recursion_limit = "256"]
//! The SchedulingKit webhooks web app: the HTML shell, the routes and pages, the server
//! functions behind them, and the domain they share with the dispatcher.
//!
//! Everything server-only (database, sessions, queue) is behind the `ssr` feature, so the
//! browser bundle (`hydrate`) carries only the pages and the pure domain rules.

pub mod alerts;
pub mod api_keys;
pub mod auth;
pub mod components;
pub mod deliveries;
pub mod domain;
pub mod error;
pub mod event_types;
pub mod webhooks;

#[cfg(feature = "ssr")]
pub mod entities;
#[cfg(feature = "ssr")]
pub mod operator;
#[cfg(feature = "ssr")]
pub mod queue;
#[cfg(feature = "ssr")]
pub mod request;
#[cfg(feature = "ssr")]
pub mod secrets;
#[cfg(feature = "ssr")]
pub mod session_store;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod storage;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Redirect, Route, Router, Routes};
use leptos_router::{path, SsrMode};

use api_keys::ApiKeysPage;
use auth::{LoginPage, SignupPage};
use components::Header;
use deliveries::{DeliveryDetailPage, DeliveryLogPage};
use webhooks::{CreateWebhookPage, EditWebhookPage, WebhookListPage};

/// The name cargo-leptos gives the JS, WASM and CSS files (`[[workspace.metadata.leptos]]`).
pub const OUTPUT_NAME: &str = "schedulingkit-webhooks";

/// The site's icon: `public/favicon.svg`, which cargo-leptos copies into the site root
/// (`assets-dir`), where the server serves it.
pub const FAVICON_PATH: &str = "/favicon.svg";

/// The pages' Content-Security-Policy: scripts only from this site or with this response's
/// nonce (the inline hydration script), WebAssembly allowed, styles from this site or with the
/// nonce (the operator's brand colours), images from this site (and the operator's logo's
/// origin), no plugins, and framed by nobody — or by the operator's allowed origins only.
pub fn content_security_policy(
    nonce: &str,
    frame_ancestors: &[String],
    logo_origin: Option<&str>,
) -> String {
    let ancestors = if frame_ancestors.is_empty() {
        "'none'".to_string()
    } else {
        frame_ancestors.join(" ")
    };
    let logo = logo_origin.map(|o| format!(" {o}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'nonce-{nonce}'; img-src 'self' data:{logo}; connect-src 'self'; \
         font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
         frame-ancestors {ancestors}"
    )
}

/// What the shell shows of the operator's settings and the link's session: framed or not,
/// and the brand's CSS (accent colour, logo), server-rendered only (not in the WASM).
#[cfg(feature = "ssr")]
fn portal_look() -> (bool, Option<String>, Option<String>) {
    let Some(state) = use_context::<state::AppState>() else {
        return (false, None, None);
    };
    let embedded = use_context::<http::request::Parts>()
        .and_then(|p| p.extensions.get::<operator::portal::LinkSession>().cloned())
        .is_some_and(|l| l.embedded);
    let portal = &state.portal;
    let mut css = String::new();
    if let Some(accent) = &portal.accent {
        css.push_str(&format!(":root{{--brand:{accent};--brand-dark:{accent}}}"));
    }
    if let Some(logo) = &portal.logo_url {
        css.push_str(&format!(
            ".brand .logo{{display:inline-block;width:1.4em;height:1.4em;vertical-align:middle;\
             color:transparent;background:url({logo}) center/contain no-repeat}}"
        ));
    }
    let logo_origin = portal
        .logo_url
        .as_deref()
        .and_then(|l| url::Url::parse(l).ok())
        .map(|u| u.origin().ascii_serialization());
    (embedded, (!css.is_empty()).then_some(css), logo_origin)
}

pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    let (embedded, brand_css, nonce) = {
        let (embedded, css, logo_origin) = portal_look();
        let frame_ancestors = use_context::<state::AppState>()
            .map(|s| s.portal.frame_ancestors.clone())
            .unwrap_or_default();
        let nonce = leptos::nonce::use_nonce();
        if let (Some(nonce), Some(res)) = (&nonce, use_context::<leptos_axum::ResponseOptions>()) {
            let csp = content_security_policy(nonce, &frame_ancestors, logo_origin.as_deref());
            if let Ok(value) = http::HeaderValue::from_str(&csp) {
                res.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
            }
        }
        (embedded, css, nonce.map(|n| n.to_string()))
    };
    #[cfg(not(feature = "ssr"))]
    let (embedded, brand_css, nonce): (bool, Option<String>, Option<String>) = (false, None, None);
    view! {
        <!DOCTYPE html>
        <html lang="en" data-embedded=embedded.then_some("true")>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light"/>
                <link rel="icon" type="image/svg+xml" href=FAVICON_PATH/>
                <HashedStylesheet id="leptos" options=options.clone()/>
                {brand_css.map(|css| view! { <style nonce=nonce inner_html=css></style> })}
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Marks the page as interactive once hydrated (browser tests wait for it).
    Effect::new(|_| {
        #[cfg(feature = "hydrate")]
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        // Every page's title is escaped in server rendering (leptos_meta writes it as is).
        <Title formatter=components::title_text text="SchedulingKit webhooks"/>
        <Router>
            <Header/>
            <main>
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=|| view! { <Redirect path="/settings/webhooks"/> }/>
                    <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async/>
                    <Route path=path!("/signup") view=SignupPage ssr=SsrMode::Async/>
                    <Route path=path!("/settings") view=|| view! { <Redirect path="/settings/webhooks"/> }/>
                    <Route path=path!("/settings/webhooks") view=WebhookListPage ssr=SsrMode::Async/>
                    <Route path=path!("/settings/webhooks/create") view=CreateWebhookPage ssr=SsrMode::Async/>
                    <Route path=path!("/settings/webhooks/:id/edit") view=EditWebhookPage ssr=SsrMode::Async/>
                    <Route path=path!("/settings/webhooks/:id/deliveries") view=DeliveryLogPage ssr=SsrMode::Async/>
                    <Route path=path!("/settings/webhooks/:id/deliveries/:delivery_id") view=DeliveryDetailPage ssr=SsrMode::Async/>
                    <Route path=path!("/settings/api-keys") view=ApiKeysPage ssr=SsrMode::Async/>
                    <Route path=path!("/settings/account") view=alerts::AccountSettingsPage ssr=SsrMode::Async/>
                    <Route path=path!("/settings/event-types") view=event_types::EventTypesPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found · SchedulingKit"/>
        <div class="notice">
            <h1>"Page not found"</h1>
            <p><a href="/settings/webhooks">"Go to your webhooks"</a></p>
        </div>
    }
}
