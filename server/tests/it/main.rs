//! The integration tests, in one binary (one link instead of one per file): the whole app on
//! port 0 with a fresh database, real receivers on loopback, and the real binary as a process.

#[macro_use]
mod common;

mod accounts;
mod alerts;
mod api;
mod authorization;
mod catalog;
mod cluster;
mod crash;
mod delivery;
mod egress;
mod filters;
mod formats;
mod handoff;
mod hardening;
mod held;
mod isolation;
mod log;
mod logs;
mod operator;
mod ops;
mod scheduled;
mod scheduled_processes;
mod scopes;
mod site;
mod snippets;
mod storage;
mod templates;
mod web_hardening;
mod webhooks;
