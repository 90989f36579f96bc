//! The shop's currencies: the `currencies` setting (`"USD, EUR 0.92, GBP 0.79"`), the
//! default first, each other with the rate that converts the default's prices into it.
//!
//! A price in a currency other than the default is, for each product (or variant):
//! - the amount a price list in that currency for everyone and all the time sets for it
//!   (`/api/admin/price-lists`), else
//! - the default's price converted at the rate: `round(amount × rate)` in minor units,
//!   half up, in integers (the rate has at most 6 decimals: parts per million), never a
//!   float.
//!
//! A rate is "minor units of this currency per minor unit of the default": from USD (cents)
//! to JPY (yen, no minor unit) at ¥150 per dollar it is `1.5`. Shipping rates' and fixed
//! promotions' amounts are converted the same way.

use super::Currency;

/// One enabled currency: its code and its rate from the default (the default's is 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enabled {
    pub code: Currency,
    /// parts per million: 1,000,000 is 1
    pub rate_ppm: i64,
}

/// One million: the rate of 1 in parts per million.
pub const ONE: i64 = 1_000_000;

/// The most currencies a shop may enable.
pub const MAX_CURRENCIES: usize = 20;

impl Enabled {
    /// The rate as written: `0.92`, `1.5`, `1`.
    pub fn rate(&self) -> String {
        let whole = self.rate_ppm / ONE;
        let frac = self.rate_ppm % ONE;
        if frac == 0 {
            return whole.to_string();
        }
        let digits = format!("{frac:06}");
        format!("{whole}.{}", digits.trim_end_matches('0'))
    }

    /// `amount` (minor units of the default) in this currency.
    pub fn convert(&self, amount: i64) -> i64 {
        convert(amount, self.rate_ppm)
    }
}

/// `amount × rate_ppm / 1,000,000`, rounded half up (amounts are never negative), in
/// 128-bit integers so no amount the API accepts can overflow.
pub fn convert(amount: i64, rate_ppm: i64) -> i64 {
    if rate_ppm == ONE {
        return amount;
    }
    let wide = amount as i128 * rate_ppm as i128;
    let rounded = (wide + (ONE as i128) / 2).div_euclid(ONE as i128);
    rounded.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// A rate as written (`0.92`, `150`, `1.085`): positive, below 1,000,000, at most 6
/// decimals; no leading zero but the one before the point of a rate below 1, whose last
/// decimal is not 0 (the settings' pattern in the OpenAPI document says the same).
fn parse_rate(s: &str) -> Option<i64> {
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let ok = match (whole, frac) {
        ("0", Some(f)) => digits(f) && f.len() <= 6 && !f.ends_with('0'),
        (w, f) => digits(w) && w.len() <= 6 && !w.starts_with('0') && f.is_none_or(|f| digits(f) && f.len() <= 6),
    };
    if !ok {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = match frac {
        Some(f) => format!("{f:0<6}").parse().ok()?,
        None => 0,
    };
    Some(whole * ONE + frac)
}

/// The `currencies` setting as a list (the default first), or why it cannot be one.
pub fn parse_list(setting: &str) -> Result<Vec<Enabled>, String> {
    let form = "must be currency codes separated by commas, the default first and each other with its rate \
                from the default (like \"USD, EUR 0.92, JPY 1.5\")";
    let mut out: Vec<Enabled> = Vec::new();
    for (i, part) in setting.split(',').map(|p| p.trim_matches(' ')).enumerate() {
        let mut bits = part.split(' ').filter(|b| !b.is_empty());
        let code = bits.next().and_then(Currency::parse).ok_or_else(|| format!("{form}; {part:?} is not one"))?;
        let rate = bits.next();
        if bits.next().is_some() {
            return Err(format!("{form}; {part:?} is not one"));
        }
        let rate_ppm = match (i, rate) {
            (0, None) => ONE,
            (0, Some(_)) => return Err(format!("{form}; the default ({}) has no rate", code.as_str())),
            (_, None) => return Err(format!("{form}; {} has no rate", code.as_str())),
            (_, Some(r)) => parse_rate(r).ok_or_else(|| {
                format!("{form}; the rate of {} must be a positive number with at most 6 decimals", code.as_str())
            })?,
        };
        if out.iter().any(|e| e.code == code) {
            return Err(format!("{form}; {} is named twice", code.as_str()));
        }
        out.push(Enabled { code, rate_ppm });
    }
    if out.len() > MAX_CURRENCIES {
        return Err(format!("must name at most {MAX_CURRENCIES} currencies"));
    }
    Ok(out)
}

/// The enabled currencies of `setting` (the default first); a setting that cannot be read
/// (the configuration's checks refuse one) is the default's alone.
pub fn enabled(setting: &str) -> Vec<Enabled> {
    parse_list(setting).unwrap_or_else(|_| {
        let first = setting.split([',', ' ']).next().and_then(Currency::parse).unwrap_or(Currency::USD);
        vec![Enabled { code: first, rate_ppm: ONE }]
    })
}

/// The enabled currency `code` names (exactly, upper case), if any.
pub fn find(setting: &str, code: &str) -> Option<Enabled> {
    enabled(setting).into_iter().find(|e| e.code.as_str() == code)
}

/// The codes of the enabled currencies of `setting`, the default first.
pub fn codes(setting: &str) -> Vec<String> {
    enabled(setting).iter().map(|e| e.code.as_str().to_owned()).collect()
}

/// The enabled currency `asked` names, or the client's error naming the shop's.
pub fn sold(setting: &str, asked: &str) -> Result<Enabled, String> {
    find(setting, asked).ok_or_else(|| format!("must be one of the shop's currencies: {}", codes(setting).join(", ")))
}

/// The shop's default currency.
pub fn default_of(setting: &str) -> Currency {
    enabled(setting)[0].code
}

/// The decimals a currency's amounts are written with: 0 for those without a minor unit
/// in use (yen, won), else 2. (Amounts are always integers of the currency's smallest
/// unit the shop counts in.)
pub fn minor_digits(currency: &str) -> u32 {
    if matches!(currency, "JPY" | "KRW") {
        0
    } else {
        2
    }
}

/// The pattern of a currency code in a request.
pub const PATTERN: &str = "^[A-Z]{3}$";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_names_the_default_then_each_other_with_its_rate() {
        let list = parse_list("USD, EUR 0.92, JPY 1.5,GBP 0.000001").unwrap();
        let codes: Vec<&str> = list.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(codes, ["USD", "EUR", "JPY", "GBP"]);
        assert_eq!(list.iter().map(|e| e.rate_ppm).collect::<Vec<_>>(), [ONE, 920_000, 1_500_000, 1]);
        assert_eq!(list[1].rate(), "0.92");
        assert_eq!(parse_list("USD, EUR 1.50, JPY 999999.999999").unwrap()[2].rate_ppm, 999_999_999_999);
        assert_eq!(list[2].rate(), "1.5");
        assert_eq!(list[0].rate(), "1");
        for bad in [
            "",
            "usd",
            "USD 1",
            "USD, EUR",
            "USD, EUR 0",
            "USD, EUR -1",
            "USD, EUR 0.1234567",
            "USD, EUR 1.",
            "USD, EUR .5",
            "USD, EUR 1 2",
            "USD, USD 1",
            "USD, EUR 1e3",
            "USD, EUR 0.50",
            "USD, EUR 01",
            "USD, EUR 0",
            "USD, EUR 1000000",
            "USD,\tEUR 1",
        ] {
            assert!(parse_list(bad).is_err(), "{bad:?}");
        }
        assert_eq!(enabled("nonsense")[0].code, Currency::USD);
        let euro_shop = parse_list("EUR, USD 1.1, JPY 160").unwrap();
        assert_eq!(euro_shop[0], Enabled { code: Currency::parse("EUR").unwrap(), rate_ppm: ONE });
        assert_eq!(default_of("JPY, USD 0.0067").as_str(), "JPY");
    }

    #[test]
    fn conversion_rounds_half_up_in_integers() {
        assert_eq!(convert(1999, 920_000), 1839); // 1839.08
        assert_eq!(convert(1000, 500_000), 500);
        assert_eq!(convert(999, 500_000), 500); // 499.5 rounds up
        assert_eq!(convert(1, 1_500_000), 2); // 1.5
        assert_eq!(convert(0, 920_000), 0);
        assert_eq!(convert(10_000_000_000, ONE * ONE), 10_000_000_000_000_000);
    }
}
