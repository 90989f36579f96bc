#![recursion_limit = "512"]
//! `storefront`: an e-commerce storefront API server on embedded SQLite.
//!
//! Map (see README.md for the longer tour):
//! - [`app`]: state and start-up; [`server`]: the accept loop and graceful shutdown;
//!   [`routes`]: the route table.
//! - [`db`]: pragmas, the read pool, the single writer with group commit, migrations.
//! - [`catalog`]: the catalog API (handlers, model, store) and the in-memory search index.
//! - [`customers`]: accounts, sessions and their extractors; [`cart`]: carts and prices;
//!   [`orders`]: checkout, orders, expiry, the payment webhook; [`reviews`]: posting
//!   reviews; [`mail`]: the outbox and the SMTP sender.
//! - [`jobs`]: the job queue in SQLite, its runner and the one schedule of recurring
//!   tasks; [`webhooks`]: outgoing event subscriptions and their deliveries.
//! - [`http`]: query parsing, response negotiation, the request-context middleware.
//! - [`error`]: storage errors and the API error envelope.
//! - [`config`], [`cli`]: configuration and command line; [`seed`]: the catalog generator.

pub mod admin;
pub mod app;
pub mod archive;
pub mod auth;
pub mod bulk;
pub mod cache;
pub mod cart;
pub mod catalog;
pub mod cli;
pub mod commands;
pub mod config;
pub mod customers;
pub mod db;
pub mod domain;
pub mod error;
pub mod gift_cards;
pub mod http;
pub mod jobs;
pub mod limits;
#[macro_use]
pub mod mail;
pub mod media;
pub mod openapi;
pub mod orders;
pub mod pages;
pub mod redis;
pub mod replication;
pub mod reviews;
pub mod secrets;
pub mod seed;
pub mod settings;
pub mod telemetry;
pub mod util;
pub mod web;
pub mod webhooks;
