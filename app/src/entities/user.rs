use sea_orm::entity::prelude::*;

use crate::domain::{AccountId, UserId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: UserId,
    pub account_id: AccountId,
    /// Lower-cased at sign-up (see `domain::Email`).
    pub email: String,
    /// An argon2id PHC string.
    pub password_hash: String,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
