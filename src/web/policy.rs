//! What each route asks of the front layer, declared beside it in the route table
//! ([`super::routes`]): its rate-limit rule, what an API key may do on it, its time limit,
//! its body limit, and whether the cache's fast path may answer it. The table is built
//! once; a request finds its route (and so its policy) by one look-up of the matched
//! template, or of its path when it is answered ahead of the router.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::http::Method;

use crate::auth::api_keys::{Area, KeyAccess};
use crate::limits::Rule;

/// How long a request may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// `request_timeout_secs`, then 503 `timeout`
    Request,
    /// as long as its body keeps coming (uploads; their idle time is bounded instead)
    Streamed,
}

/// What the body of a request may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLimit {
    /// a JSON document of at most this many bytes (else 413)
    Json(usize),
    /// a file streamed in, bounded by its handler (`import_max_mb`, `media_max_mb`)
    Upload,
}

/// What a route answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// JSON; errors in the contract's envelope
    Api,
    /// a web page (HTML); errors as a page
    Page,
}

/// One route's policy (per method).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub kind: Kind,
    pub rate: Option<Rule>,
    pub keys: KeyAccess,
    pub timeout: Timeout,
    pub body: BodyLimit,
    /// a cached answer may be served ahead of the router (public GETs whose answer is
    /// the same for everyone)
    pub fast_path: bool,
}

impl Policy {
    /// A route anyone may call, or that authenticates with a session token.
    pub const fn open() -> Policy {
        Policy {
            kind: Kind::Api,
            rate: None,
            keys: KeyAccess::NotAdmin,
            timeout: Timeout::Request,
            body: BodyLimit::Json(crate::http::body::MAX_BODY),
            fast_path: false,
        }
    }

    /// An admin route API keys with a scope of `area` may use.
    pub const fn admin(area: Area) -> Policy {
        Policy { keys: KeyAccess::Area(area), ..Policy::open() }
    }

    /// An admin route only administrators in person may use.
    pub const fn in_person() -> Policy {
        Policy { keys: KeyAccess::InPerson, ..Policy::open() }
    }

    /// A web page anyone may ask for.
    pub const fn page() -> Policy {
        Policy { kind: Kind::Page, ..Policy::open() }
    }

    pub const fn rate(self, rule: Rule) -> Policy {
        Policy { rate: Some(rule), ..self }
    }

    /// Its answers are cached and the same for everyone: the fast path may serve them.
    pub const fn fast_path(self) -> Policy {
        Policy { fast_path: true, ..self }
    }

    /// A streamed upload: no request time limit, a body its handler bounds.
    pub const fn upload(self) -> Policy {
        Policy { timeout: Timeout::Streamed, body: BodyLimit::Upload, ..self }
    }
}

/// A route template and the policy of each of its methods.
#[derive(Debug)]
pub struct Route {
    pub template: &'static str,
    methods: Vec<(Method, Policy)>,
}

impl Route {
    pub fn policy(&self, method: &Method) -> Option<&Policy> {
        let method = if *method == Method::HEAD { &Method::GET } else { method };
        self.methods.iter().find(|(m, _)| m == method).map(|(_, p)| p)
    }

    pub fn methods(&self) -> impl Iterator<Item = (&Method, &Policy)> {
        self.methods.iter().map(|(m, p)| (m, p))
    }
}

/// Every route of the table, found by template or by path.
pub struct Routes {
    by_template: HashMap<&'static str, &'static Route>,
    by_path: matchit::Router<&'static Route>,
}

impl Routes {
    /// From what the route table declared: (template, method, policy).
    pub fn new(declared: Vec<(String, Method, Policy)>) -> Routes {
        let mut grouped: Vec<(String, Vec<(Method, Policy)>)> = Vec::new();
        for (template, method, policy) in declared {
            match grouped.iter_mut().find(|(t, _)| *t == template) {
                Some((_, methods)) => methods.push((method, policy)),
                None => grouped.push((template, vec![(method, policy)])),
            }
        }
        let mut by_template = HashMap::new();
        let mut by_path = matchit::Router::new();
        for (template, methods) in grouped {
            // made once per route for the process's life: metrics labels and look-ups
            // borrow them without allocating
            let template: &'static str = Box::leak(template.into_boxed_str());
            let route: &'static Route = Box::leak(Box::new(Route { template, methods }));
            by_template.insert(template, route);
            // two spellings of one template (a parameter named differently by two
            // methods) keep the first
            let _ = by_path.insert(template, route);
        }
        Routes { by_template, by_path }
    }

    /// The route of a matched template.
    pub fn of_template(&self, template: &str) -> Option<&'static Route> {
        self.by_template.get(template).copied()
    }

    /// The route a path would be routed to.
    pub fn of_path(&self, path: &str) -> Option<&'static Route> {
        self.by_path.at(path).ok().map(|m| *m.value)
    }

    pub fn all(&self) -> impl Iterator<Item = &'static Route> + '_ {
        self.by_template.values().copied()
    }
}

/// The table's routes, built once.
pub fn routes() -> &'static Routes {
    static ROUTES: OnceLock<Routes> = OnceLock::new();
    ROUTES.get_or_init(|| Routes::new(super::routes::table().declared))
}

/// The metrics label of a matched template, or `unmatched`.
pub fn template(matched: Option<&str>) -> &'static str {
    matched.and_then(|m| routes().of_template(m)).map_or("unmatched", |r| r.template)
}

/// The metrics label of a request answered ahead of the router, or `unmatched`.
pub fn path_template(path: &str) -> &'static str {
    routes().of_path(path).map_or("unmatched", |r| r.template)
}
