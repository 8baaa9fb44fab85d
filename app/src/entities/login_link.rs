use sea_orm::entity::prelude::*;

use crate::domain::AccountId;

/// A one-time log-in link made through the operator API.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_links")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Hex SHA-256 of the link's token; the token itself is never stored.
    pub token_hash: String,
    pub account_id: AccountId,
    /// The page of this site the link opens.
    pub path: String,
    /// Where "Back to <product>" leads (an origin of the operator's allow-list).
    pub return_url: Option<String>,
    /// Opened inside the product's frame: the pages leave out their own header.
    pub embedded: bool,
    pub created_at: i64,
    pub expires_at: i64,
    /// When the link was used (it is good for one use).
    pub used_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
