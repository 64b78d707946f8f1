//! Pure cart arithmetic: per-item calculations and cart totals in integer minor units, following
//! Spryker's calculator stack (item prices → tax → subtotal/price-to-pay aggregations → totals).
//!
//! Rules:
//! - GROSS_MODE: the catalog price is the gross price; tax is extracted from it,
//!   `tax = round(gross × rate / (100 + rate))`, and `net = gross − tax`.
//! - NET_MODE: the catalog price is the net price; tax is added, `tax = round(net × rate / 100)`,
//!   and `gross = net + tax`.
//! - Sums are computed from the summed price (`unit × quantity`), and the sum's tax from that sum, never
//!   as the rounded unit tax × quantity, so a line's tax is off by at most half a minor unit.
//! - Rounding is half away from zero (PHP's `round`, which Spryker uses).
//! - `unitPrice`/`sumPrice` are the mode's prices (gross in GROSS_MODE, net in NET_MODE).
//! - subtotal = Σ sumSubtotalAggregation; taxTotal = Σ sumTaxAmountFullAggregation;
//!   grandTotal = subtotal − discounts + expenses (GROSS_MODE) or subtotal + tax − discounts + expenses
//!   (NET_MODE); priceToPay = grandTotal. Discounts, expenses and product options are 0 until they exist.

use super::PriceMode;
use crate::gateway::{CartTotals, ItemCalculations};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

/// Rounds to whole minor units, half away from zero; saturates at the ends of `i64`.
pub fn round_minor_units(value: Decimal) -> i64 {
    let rounded = value.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    rounded
        .to_i64()
        .unwrap_or(if rounded.is_sign_negative() { i64::MIN } else { i64::MAX })
}

/// The tax contained in a gross amount at `rate` percent.
pub fn tax_in_gross(gross: i64, rate: Decimal) -> i64 {
    let denominator = Decimal::ONE_HUNDRED + rate;
    if rate.is_zero() || denominator.is_zero() {
        return 0;
    }
    match Decimal::from(gross).checked_mul(rate) {
        Some(product) => round_minor_units(product / denominator),
        None => round_minor_units(Decimal::from(gross) / denominator * rate),
    }
}

/// The tax added on top of a net amount at `rate` percent.
pub fn tax_on_net(net: i64, rate: Decimal) -> i64 {
    if rate.is_zero() {
        return 0;
    }
    match Decimal::from(net).checked_mul(rate) {
        Some(product) => round_minor_units(product / Decimal::ONE_HUNDRED),
        None => round_minor_units(Decimal::from(net) / Decimal::ONE_HUNDRED * rate),
    }
}

/// Net, tax and gross of one amount given in `mode`'s terms.
fn split(mode: PriceMode, amount: i64, rate: Decimal) -> (i64, i64, i64) {
    match mode {
        PriceMode::Gross => {
            let tax = tax_in_gross(amount, rate);
            (amount.saturating_sub(tax), tax, amount)
        }
        PriceMode::Net => {
            let tax = tax_on_net(amount, rate);
            (amount, tax, amount.saturating_add(tax))
        }
    }
}

/// The calculations of one cart line: `unit_price` is the catalog price in the cart's mode (gross in
/// GROSS_MODE, net in NET_MODE) and `tax_rate` a percentage such as 19.
pub fn item_calculations(mode: PriceMode, unit_price: i64, quantity: u32, tax_rate: Decimal) -> ItemCalculations {
    let sum_price = unit_price.saturating_mul(i64::from(quantity));
    let (unit_net, unit_tax, unit_gross) = split(mode, unit_price, tax_rate);
    let (sum_net, sum_tax, sum_gross) = split(mode, sum_price, tax_rate);
    // The subtotal aggregation is the mode's price plus product options (none yet).
    let unit_subtotal = unit_price;
    let sum_subtotal = sum_price;
    let (unit_to_pay, sum_to_pay) = match mode {
        PriceMode::Gross => (unit_subtotal, sum_subtotal),
        PriceMode::Net => (
            unit_subtotal.saturating_add(unit_tax),
            sum_subtotal.saturating_add(sum_tax),
        ),
    };
    ItemCalculations {
        unit_price,
        sum_price,
        tax_rate: tax_rate.normalize(),
        unit_net_price: unit_net,
        sum_net_price: sum_net,
        unit_gross_price: unit_gross,
        sum_gross_price: sum_gross,
        unit_tax_amount_full_aggregation: unit_tax,
        sum_tax_amount_full_aggregation: sum_tax,
        unit_subtotal_aggregation: unit_subtotal,
        sum_subtotal_aggregation: sum_subtotal,
        unit_discount_amount_aggregation: 0,
        sum_discount_amount_aggregation: 0,
        unit_discount_amount_full_aggregation: 0,
        sum_discount_amount_full_aggregation: 0,
        unit_product_option_price_aggregation: 0,
        sum_product_option_price_aggregation: 0,
        unit_price_to_pay_aggregation: unit_to_pay,
        sum_price_to_pay_aggregation: sum_to_pay,
    }
}

/// The totals of a cart from its items' calculations.
pub fn cart_totals<'a>(mode: PriceMode, items: impl IntoIterator<Item = &'a ItemCalculations>) -> CartTotals {
    let (subtotal, tax_total) = items.into_iter().fold((0_i64, 0_i64), |(subtotal, tax), item| {
        (
            subtotal.saturating_add(item.sum_subtotal_aggregation),
            tax.saturating_add(item.sum_tax_amount_full_aggregation),
        )
    });
    let discount_total = 0_i64;
    let expense_total = 0_i64;
    let before_tax = subtotal.saturating_sub(discount_total).saturating_add(expense_total);
    let grand_total = match mode {
        PriceMode::Gross => before_tax,
        PriceMode::Net => before_tax.saturating_add(tax_total),
    };
    CartTotals {
        expense_total,
        discount_total,
        tax_total,
        subtotal,
        grand_total,
        price_to_pay: grand_total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn percent(value: i64) -> Decimal {
        Decimal::from(value)
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(round_minor_units(Decimal::new(25, 1)), 3);
        assert_eq!(round_minor_units(Decimal::new(-25, 1)), -3);
        assert_eq!(round_minor_units(Decimal::new(249, 2)), 2);
        assert_eq!(round_minor_units(Decimal::new(15, 1)), 2);
    }

    #[test]
    fn gross_mode_extracts_tax_from_the_gross_price() {
        let item = item_calculations(PriceMode::Gross, 1000, 3, percent(19));
        assert_eq!(item.unit_price, 1000);
        assert_eq!(item.unit_gross_price, 1000);
        // 1000 × 19 / 119 = 159.66… → 160
        assert_eq!(item.unit_tax_amount_full_aggregation, 160);
        assert_eq!(item.unit_net_price, 840);
        assert_eq!(item.sum_price, 3000);
        assert_eq!(item.sum_gross_price, 3000);
        // 3000 × 19 / 119 = 478.99… → 479, not 3 × 160 = 480
        assert_eq!(item.sum_tax_amount_full_aggregation, 479);
        assert_eq!(item.sum_net_price, 2521);
        assert_eq!(item.sum_subtotal_aggregation, 3000);
        assert_eq!(item.sum_price_to_pay_aggregation, 3000);
        assert_eq!(item.tax_rate.to_string(), "19");
    }

    #[test]
    fn net_mode_adds_tax_to_the_net_price() {
        let item = item_calculations(PriceMode::Net, 1050, 3, percent(19));
        assert_eq!(item.unit_price, 1050);
        assert_eq!(item.unit_net_price, 1050);
        // 1050 × 0.19 = 199.5 → 200 (half away from zero)
        assert_eq!(item.unit_tax_amount_full_aggregation, 200);
        assert_eq!(item.unit_gross_price, 1250);
        assert_eq!(item.sum_net_price, 3150);
        // 3150 × 0.19 = 598.5 → 599
        assert_eq!(item.sum_tax_amount_full_aggregation, 599);
        assert_eq!(item.sum_gross_price, 3749);
        assert_eq!(item.sum_subtotal_aggregation, 3150);
        assert_eq!(item.sum_price_to_pay_aggregation, 3749);
    }

    #[test]
    fn gross_totals_sum_the_items_and_include_their_tax() {
        let items = [
            item_calculations(PriceMode::Gross, 1000, 3, percent(19)),
            item_calculations(PriceMode::Gross, 1999, 1, Decimal::new(7, 0)),
        ];
        let totals = cart_totals(PriceMode::Gross, &items);
        assert_eq!(totals.subtotal, 4999);
        // 479 + round(1999 × 7 / 107 = 130.77) = 479 + 131
        assert_eq!(totals.tax_total, 610);
        assert_eq!(totals.grand_total, 4999);
        assert_eq!(totals.price_to_pay, 4999);
        assert_eq!((totals.discount_total, totals.expense_total), (0, 0));
    }

    #[test]
    fn net_totals_add_the_tax_to_the_subtotal() {
        let items = [
            item_calculations(PriceMode::Net, 1000, 2, percent(19)),
            item_calculations(PriceMode::Net, 500, 1, Decimal::ZERO),
        ];
        let totals = cart_totals(PriceMode::Net, &items);
        assert_eq!(totals.subtotal, 2500);
        assert_eq!(totals.tax_total, 380);
        assert_eq!(totals.grand_total, 2880);
        assert_eq!(totals.price_to_pay, 2880);
    }

    #[test]
    fn fractional_rates_and_empty_carts() {
        // 1000 × 7.5 / 107.5 = 69.767… → 70
        assert_eq!(tax_in_gross(1000, Decimal::new(75, 1)), 70);
        assert_eq!(tax_on_net(1000, Decimal::new(75, 1)), 75);
        assert_eq!(cart_totals(PriceMode::Gross, &[]), CartTotals::default());
    }

    #[test]
    fn huge_amounts_saturate_instead_of_overflowing() {
        let item = item_calculations(PriceMode::Net, i64::MAX / 2, u32::MAX, percent(19));
        assert_eq!(item.sum_price, i64::MAX);
        assert_eq!(item.sum_gross_price, i64::MAX);
    }
}
