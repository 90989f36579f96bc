//! Prices of a cart or an order: pure functions over integer minor units.
//!
//! The rounding rule (stated in the OpenAPI document): every derived amount is rounded
//! half up to a whole minor unit, once, where it is computed —
//! - line total = unit price × quantity (exact);
//! - percent discount = subtotal × percent / 100; fixed discount = min(value, subtotal);
//! - tax on top (a rate that is not inclusive) = (subtotal − discount) × rate / 10,000
//!   (rates in basis points; shipping is not taxed), and total = subtotal − discount +
//!   shipping + tax;
//! - tax included (an inclusive rate: prices are gross) = the part of (subtotal − discount)
//!   that is tax, (subtotal − discount) × rate / (10,000 + rate), and total = subtotal −
//!   discount + shipping: the shopper pays the prices shown.

use serde::Serialize;

use crate::domain::{Currency, Money};

/// `a × b / d`, rounded half up, for non-negative values (i128 inside: no overflow).
pub fn mul_div_round(a: i64, b: i64, d: i64) -> i64 {
    ((a as i128 * b as i128 + d as i128 / 2) / d as i128) as i64
}

#[derive(Debug, Clone)]
pub struct Promotion {
    pub code: String,
    pub kind: String,
    pub value: i64,
    pub min_subtotal: i64,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub usage_limit: Option<i64>,
    pub times_used: i64,
    pub active: bool,
    /// the fixed discount in other currencies (JSON: code → amount), else converted
    pub value_in: Option<String>,
    /// the minimum order in other currencies (JSON: code → amount), else converted
    pub min_subtotal_in: Option<String>,
}

impl Promotion {
    /// The discount on `subtotal` at `now`, or why the code does not apply.
    pub fn discount(&self, subtotal: i64, now: i64) -> Result<i64, String> {
        if !self.active {
            return Err("this code is no longer offered".into());
        }
        if self.starts_at.is_some_and(|t| now < t) {
            return Err("this code is not valid yet".into());
        }
        if self.ends_at.is_some_and(|t| now >= t) {
            return Err("this code has expired".into());
        }
        if self.usage_limit.is_some_and(|l| self.times_used >= l) {
            return Err("this code has been used up".into());
        }
        self.granted(subtotal)
    }

    /// The discount on `subtotal` of a code already granted (an order's, when it is
    /// edited): its kind, value and minimum subtotal, not its dates or uses.
    pub fn granted(&self, subtotal: i64) -> Result<i64, String> {
        if subtotal < self.min_subtotal {
            return Err(format!("this code needs a subtotal of at least {} minor units", self.min_subtotal));
        }
        Ok(match self.kind.as_str() {
            "percent" => mul_div_round(subtotal, self.value.min(100), 100),
            _ => self.value.min(subtotal),
        })
    }
}

#[derive(Debug, Clone)]
pub struct ShippingRate {
    pub code: String,
    pub name: String,
    pub min_subtotal: i64,
    pub max_subtotal: Option<i64>,
    pub max_weight_grams: Option<i64>,
    pub price: i64,
    pub free_above: Option<i64>,
    /// the price in other currencies (JSON: code → amount), else converted
    pub price_in: Option<String>,
    /// the free-from threshold in other currencies (JSON: code → amount), else converted
    pub free_above_in: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ShippingOption {
    pub code: String,
    pub name: String,
    pub price: Money,
}

/// The options for a cart worth `goods` (after discount) weighing `grams`, cheapest first.
/// Rates for the exact country replace the catch-all (`*`) ones.
pub fn shipping_options(
    rates: &[(String, ShippingRate)],
    country: &str,
    goods: i64,
    grams: i64,
    currency: Currency,
) -> Vec<ShippingOption> {
    let exact = rates.iter().any(|(c, _)| c == country);
    let mut out: Vec<ShippingOption> = rates
        .iter()
        .filter(|(c, _)| if exact { c == country } else { c == "*" })
        .map(|(_, r)| r)
        .filter(|r| goods >= r.min_subtotal && r.max_subtotal.is_none_or(|m| goods <= m))
        .filter(|r| r.max_weight_grams.is_none_or(|m| grams <= m))
        .map(|r| ShippingOption {
            code: r.code.clone(),
            name: r.name.clone(),
            price: Money::new(if r.free_above.is_some_and(|f| goods >= f) { 0 } else { r.price }, currency),
        })
        .collect();
    out.sort_by(|a, b| a.price.amount.cmp(&b.price.amount).then(a.code.cmp(&b.code)));
    out
}

/// The tax of a destination: its rate, and whether prices include it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaxRate {
    /// basis points: 2000 = 20 %
    pub bp: i64,
    /// prices are gross: the tax is the part of them it holds, not added on top
    pub inclusive: bool,
}

/// Everything a cart or order costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub subtotal: i64,
    pub discount: i64,
    pub shipping: i64,
    pub tax: i64,
    pub total: i64,
    /// `tax` is part of the prices (and of `subtotal`), not added to the total
    pub tax_included: bool,
}

impl Totals {
    pub fn new(subtotal: i64, discount: i64, shipping: i64, rate: TaxRate) -> Totals {
        let discount = discount.clamp(0, subtotal);
        let goods = subtotal - discount;
        let (tax, total) = if rate.inclusive {
            (mul_div_round(goods, rate.bp, 10_000 + rate.bp), goods + shipping)
        } else {
            let tax = mul_div_round(goods, rate.bp, 10_000);
            (tax, goods + shipping + tax)
        };
        Totals { subtotal, discount, shipping, tax, total, tax_included: rate.inclusive && rate.bp > 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn promo(kind: &str, value: i64) -> Promotion {
        Promotion {
            code: "X".into(),
            kind: kind.into(),
            value,
            min_subtotal: 0,
            starts_at: None,
            ends_at: None,
            usage_limit: None,
            times_used: 0,
            active: true,
            value_in: None,
            min_subtotal_in: None,
        }
    }

    #[test]
    fn rounding_is_half_up_once() {
        assert_eq!(mul_div_round(1999, 15, 100), 300); // 299.85
        assert_eq!(mul_div_round(10, 5, 100), 1); // 0.5 rounds up
        assert_eq!(mul_div_round(10, 4, 100), 0);
        let on_top = TaxRate { bp: 2000, inclusive: false };
        let t = Totals::new(1999, 300, 499, on_top);
        assert_eq!(
            t,
            Totals { subtotal: 1999, discount: 300, shipping: 499, tax: 340, total: 2538, tax_included: false }
        );
        assert_eq!(Totals::new(100, 500, 0, on_top).discount, 100, "a discount never exceeds the subtotal");
    }

    #[test]
    fn an_inclusive_rate_is_the_part_of_the_price_that_is_tax() {
        let vat = |bp| TaxRate { bp, inclusive: true };
        // 119.00 gross at 19 %: 100.00 net, 19.00 tax, and the shopper pays 119.00 + shipping
        let t = Totals::new(11_900, 0, 499, vat(1900));
        assert_eq!((t.tax, t.total, t.tax_included), (1900, 12_399, true));
        // 149.99 gross less 15.00 at 19 %: 134.99 × 19 / 119 = 21.553… → 21.55
        let t = Totals::new(14_999, 1500, 0, vat(1900));
        assert_eq!((t.tax, t.total), (2155, 13_499));
        // half a minor unit rounds up: 3 × 20 / 120 = 0.5
        assert_eq!(Totals::new(3, 0, 0, vat(2000)).tax, 1);
        assert_eq!(Totals::new(20, 0, 0, vat(500)).tax, 1, "0.952… rounds to 1");
        assert_eq!(Totals::new(10, 0, 0, vat(500)).tax, 0, "0.476… rounds to 0");
        // the tax is the whole minor unit nearest to the exact part, whatever the rate
        for bp in [0, 1, 550, 700, 1900, 2000, 2500, 10_000] {
            for gross in [0, 1, 3, 99, 1000, 14_999, 123_457] {
                let t = Totals::new(gross, 0, 0, vat(bp));
                assert_eq!(t.total, gross, "the shopper pays the gross price");
                let off = (t.tax * (10_000 + bp) - gross * bp).abs();
                assert!(2 * off <= 10_000 + bp, "{gross} at {bp}: {}", t.tax);
            }
        }
        assert!(!Totals::new(100, 0, 0, vat(0)).tax_included, "no tax is not tax included");
    }

    #[test]
    fn codes_say_why_they_do_not_apply() {
        assert_eq!(promo("percent", 10).discount(1999, 0), Ok(200));
        assert_eq!(promo("fixed", 5000).discount(1999, 0), Ok(1999));
        let mut p = promo("fixed", 100);
        p.min_subtotal = 5000;
        assert!(p.discount(4999, 0).unwrap_err().contains("at least"));
        p.min_subtotal = 0;
        p.ends_at = Some(10);
        assert!(p.discount(100, 10).unwrap_err().contains("expired"));
        p.ends_at = None;
        p.starts_at = Some(10);
        assert!(p.discount(100, 9).unwrap_err().contains("not valid yet"));
        p.starts_at = None;
        p.usage_limit = Some(3);
        p.times_used = 3;
        assert!(p.discount(100, 0).unwrap_err().contains("used up"));
    }

    #[test]
    fn shipping_by_country_band_and_weight() {
        let rate = |code: &str, price, max_w: Option<i64>, free: Option<i64>| ShippingRate {
            code: code.into(),
            name: code.into(),
            min_subtotal: 0,
            max_subtotal: None,
            max_weight_grams: max_w,
            price,
            free_above: free,
            price_in: None,
            free_above_in: None,
        };
        let rates = vec![
            ("US".to_owned(), rate("standard", 599, None, Some(5000))),
            ("US".to_owned(), rate("letter", 199, Some(500), None)),
            ("*".to_owned(), rate("international", 2499, None, None)),
        ];
        let codes = |o: Vec<ShippingOption>| o.into_iter().map(|o| (o.code, o.price.amount)).collect::<Vec<_>>();
        assert_eq!(
            codes(shipping_options(&rates, "US", 1000, 300, Currency::USD)),
            vec![("letter".into(), 199), ("standard".into(), 599)]
        );
        assert_eq!(codes(shipping_options(&rates, "US", 6000, 3000, Currency::USD)), vec![("standard".into(), 0)]);
        assert_eq!(
            codes(shipping_options(&rates, "FR", 1000, 300, Currency::USD)),
            vec![("international".into(), 2499)]
        );
    }
}
