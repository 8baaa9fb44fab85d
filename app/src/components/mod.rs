//! Pieces shared by the pages.

mod error_notice;
mod field_error;
mod header;
mod status_badge;
mod text;
mod time;

pub use error_notice::ErrorNotice;
pub use field_error::{errors_of, FieldError, FormError};
pub use header::Header;
pub use status_badge::StatusBadge;
pub use text::{escape_text, title_text};
pub use time::{format_duration_ms, format_time};
