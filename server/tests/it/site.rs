//! What the site serves besides its pages: the icon every page links to.

use crate::common::{spawn_app_with, test_args, TestApp};

/// Every page links to the icon, and the icon answers as an image: served from the site root,
/// where cargo-leptos copies the assets directory (`assets-dir = "public"`).
async fn pages_link_an_icon_that_is_served(app: TestApp) {
    let backend = app.backend;
    app.stop().await;
    let mut args = test_args();
    // The assets directory is what cargo-leptos copies into the site root.
    args.site_root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../public");
    let Some(app) = spawn_app_with(backend, args).await else {
        return;
    };
    let client = app.client();
    for page in ["/login", "/signup", "/no-such-page"] {
        let html = client.get(page).await.text().await.unwrap();
        assert!(
            html.contains(&format!(
                r#"<link rel="icon" type="image/svg+xml" href="{}">"#,
                app::FAVICON_PATH
            )),
            "{page}: {html}"
        );
    }
    let icon = client.get(app::FAVICON_PATH).await;
    assert_eq!(icon.status(), 200);
    assert_eq!(
        icon.headers()["content-type"].to_str().unwrap(),
        "image/svg+xml"
    );
    assert!(icon.text().await.unwrap().starts_with("<svg"));
    app.stop().await;
}

backend_tests!(pages_link_an_icon_that_is_served);
