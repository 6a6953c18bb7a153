//! Money: what LLM tokens cost (`llm_prices`) and amounts in US dollars. Amounts travel
//! as whole nano-dollars (`…_nano_usd`, 10⁻⁹ USD) so that sums are exact; the UI formats
//! them.

/// Nano-dollars in a dollar.
pub const NANO_PER_USD: i64 = 1_000_000_000;

/// One entry of `llm_prices`: dollars per million input and output tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPrice {
    /// The model as the agent asks for it; a trailing `*` matches any model it starts.
    pub model: String,
    /// Pico-dollars per token ($2.50 per million tokens is 2,500,000).
    pub input_pico: i64,
    pub output_pico: i64,
}

/// The price table: `gpt-4o=2.50/10, claude-sonnet-*=3/15`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceTable(pub Vec<ModelPrice>);

/// The most entries a table may hold.
pub const MAX_PRICES: usize = 200;

/// `2.50` (dollars per million tokens) as pico-dollars per token, exactly (at most six
/// decimals, at most $1,000,000 per million tokens).
fn pico_per_token(s: &str) -> Option<i64> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() && frac.is_empty()
        || frac.len() > 6
        || !whole.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    if whole > 1_000_000 {
        return None;
    }
    let frac: i64 = format!("{frac:0<6}").parse().ok()?;
    Some(whole * 1_000_000 + frac)
}

impl PriceTable {
    /// Comma-separated `model=input/output` entries; empty entries are skipped.
    pub fn parse(text: &str) -> Result<PriceTable, String> {
        let entries: Vec<&str> = text.split(',').map(str::trim).filter(|e| !e.is_empty()).collect();
        if entries.len() > MAX_PRICES {
            return Err(format!("at most {MAX_PRICES} models"));
        }
        let table = entries
            .into_iter()
            .map(|e| {
                let bad =
                    || format!("{e:?}: expected model=INPUT/OUTPUT in dollars per million tokens, like gpt-4o=2.50/10");
                let (model, prices) = e.split_once('=').ok_or_else(bad)?;
                let (input, output) = prices.split_once('/').ok_or_else(bad)?;
                let model = model.trim();
                let star = model.find('*');
                if model.is_empty()
                    || model.len() > 200
                    || model.chars().any(char::is_whitespace)
                    || star.is_some_and(|i| i != model.len() - 1)
                {
                    return Err(bad());
                }
                Ok(ModelPrice {
                    model: model.to_string(),
                    input_pico: pico_per_token(input.trim()).ok_or_else(bad)?,
                    output_pico: pico_per_token(output.trim()).ok_or_else(bad)?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(PriceTable(table))
    }

    /// The price of `model`: its own entry, else the longest `prefix*` that matches.
    pub fn price(&self, model: &str) -> Option<&ModelPrice> {
        if let Some(p) = self.0.iter().find(|p| p.model == model) {
            return Some(p);
        }
        self.0
            .iter()
            .filter(|p| p.model.strip_suffix('*').is_some_and(|pre| model.starts_with(pre)))
            .max_by_key(|p| p.model.len())
    }

    /// What a call cost, in nano-dollars (rounded to the nearest); 0 for an unpriced model.
    pub fn cost_nano_usd(&self, model: Option<&str>, input_tokens: i64, output_tokens: i64) -> i64 {
        let Some(p) = model.and_then(|m| self.price(m)) else {
            return 0;
        };
        let pico =
            i128::from(input_tokens) * i128::from(p.input_pico) + i128::from(output_tokens) * i128::from(p.output_pico);
        i64::try_from((pico + 500) / 1000).unwrap_or(i64::MAX)
    }
}

/// `$1.2345` for nano-dollars: cents for amounts of a dollar or more, four decimals below
/// (LLM calls cost fractions of a cent).
pub fn usd_text(nano: i64) -> String {
    let usd = nano as f64 / NANO_PER_USD as f64;
    if nano == 0 {
        "$0".into()
    } else if usd.abs() >= 1.0 {
        format!("${usd:.2}")
    } else {
        format!("${usd:.4}")
    }
}

/// Dollars (a setting's value) as nano-dollars.
pub fn usd_to_nano(usd: f64) -> i64 {
    (usd * NANO_PER_USD as f64).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_parse_exactly_and_match_models() {
        let t =
            PriceTable::parse("gpt-4o=2.50/10, claude-sonnet-*=3/15 ,claude-sonnet-4-5=2/8, tiny=.0375/0.15").unwrap();
        assert_eq!(t.0.len(), 4);
        assert_eq!((t.0[0].input_pico, t.0[0].output_pico), (2_500_000, 10_000_000));
        assert_eq!((t.0[3].input_pico, t.0[3].output_pico), (37_500, 150_000));
        assert_eq!(
            t.price("claude-sonnet-4-5").unwrap().input_pico,
            2_000_000,
            "its own entry wins"
        );
        assert_eq!(t.price("claude-sonnet-3").unwrap().input_pico, 3_000_000);
        assert!(t.price("gpt-4").is_none() && t.price("gpt-4o-mini").is_none());
        // 1,000 input and 500 output tokens of gpt-4o: $0.0025 + $0.005.
        assert_eq!(t.cost_nano_usd(Some("gpt-4o"), 1000, 500), 7_500_000);
        assert_eq!(
            t.cost_nano_usd(Some("tiny"), 1, 0),
            38,
            "rounded to the nearest nano-dollar"
        );
        assert_eq!(t.cost_nano_usd(Some("unpriced"), 1000, 1000), 0);
        assert_eq!(t.cost_nano_usd(None, 1000, 1000), 0);
        assert!(PriceTable::parse("").unwrap().0.is_empty());
    }

    #[test]
    fn bad_tables_say_what_is_wrong() {
        for bad in [
            "gpt-4o",
            "gpt-4o=2.5",
            "gpt-4o=x/1",
            "=1/2",
            "gpt 4=1/2",
            "a*b=1/2",
            "m=1.1234567/1",
            "m=-1/2",
        ] {
            let e = PriceTable::parse(bad).unwrap_err();
            assert!(e.contains("model=INPUT/OUTPUT"), "{bad}: {e}");
        }
    }

    #[test]
    fn amounts_read_as_dollars() {
        assert_eq!(usd_text(0), "$0");
        assert_eq!(usd_text(7_500_000), "$0.0075");
        assert_eq!(usd_text(12_345_000_000), "$12.35");
        assert_eq!(usd_to_nano(0.25), 250_000_000);
    }
}
