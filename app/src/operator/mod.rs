//! What the scheduling product's back end does through the operator API (server only):
//! operator keys, accounts keyed by the product's own id, and one-time log-in links. The HTTP
//! routes are in `server::http::api::operator`; the pages' side of a link-opened session
//! (return link, embedding) is [`portal`].

pub mod accounts;
pub mod keys;
pub mod login_links;
pub mod portal;
