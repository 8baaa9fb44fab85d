use sea_orm::entity::prelude::*;

use crate::domain::AccountId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: AccountId,
    pub name: String,
    pub created_at: i64,
    /// The owner's switch of alert e-mails (issue 15).
    pub alert_mail: bool,
    /// The owner's switch of the alert webhook.
    pub alert_hook: bool,
    /// The scheduling product's own id of this account (operator API); `None` for an account
    /// made by sign-up.
    pub external_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
