//! The integration tests: one binary (one link, one harness), a module per area. Every
//! test talks to the real thing: a real SQLite file, the real server on 127.0.0.1:0, a real
//! redis-server, the real binary for the command line and kill -9, schemathesis for the
//! contract.

mod common;

mod abuse;
mod admin;
mod architecture;
mod bad_input;
mod bulk;
mod cache;
mod catalog_api;
mod cli;
mod contract;
mod customers;
mod deploy;
mod drafts;
mod durability;
mod edits;
mod from_the_box;
mod fulfillment;
mod gift_cards;
mod http_server;
mod images;
mod jobs;
mod listing;
mod mail;
mod markets;
mod monitoring;
mod observability;
mod orders;
mod pages;
mod query_plans;
mod redis_tier;
mod refunds;
mod replicas;
mod returns;
mod search;
mod settings;
mod topology;
mod translations;
pub mod two_factor;
mod typescript_client;
mod webhooks;
mod writer;
