//! The web pages the binary serves: the storefront at `/` and the owner's dashboard at
//! `/admin`. Server-rendered HTML from compile-time checked templates
//! (maud), one stylesheet and one small script embedded with hashed names ([`assets`]), a
//! strict Content-Security-Policy; every page works without its script. Pages call the same
//! domain functions as the JSON API — the public ones read the API's own cached answers —
//! and never implement a rule a second time.

pub mod account;
pub mod admin;
pub mod admin_bulk;
pub mod admin_customers;
pub mod admin_drafts;
pub mod admin_gift_cards;
pub mod admin_images;
pub mod admin_orders;
pub mod admin_price_lists;
pub mod admin_products;
pub mod admin_returns;
pub mod admin_system;
pub mod admin_tables;
pub mod admin_translations;
pub mod admin_variants;
pub mod admin_view;
mod admin_words;
pub mod assets;
pub mod buy;
pub(crate) mod forms;
pub mod layout;
pub mod session;
pub mod shop;
mod view;
pub mod words;

pub use layout::error_page;
