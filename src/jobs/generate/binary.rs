//! `seed generate`: values in PostgreSQL's binary COPY format (uuid, enum labels, jsonb,
//! timestamptz, date, numeric).

use super::*;
pub(super) type EncodeResult = Result<IsNull, Box<dyn StdError + Sync + Send>>;

/// A UUID as its 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uuid(pub(super) [u8; 16]);

impl std::fmt::Display for Uuid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_char('-')?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl ToSql for Uuid {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> EncodeResult {
        out.put_slice(&self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::UUID
    }

    to_sql_checked!();
}

/// A label of a PostgreSQL enum (sent as its text, which the server checks).
#[derive(Debug, Clone, Copy)]
pub(super) struct Label(pub(super) &'static str);

impl ToSql for Label {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> EncodeResult {
        out.put_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(ty.kind(), Kind::Enum(_))
    }

    to_sql_checked!();
}

/// A jsonb value from its JSON text.
#[derive(Debug, Clone, Copy)]
pub(super) struct Jsonb<'a>(pub(super) &'a str);

impl ToSql for Jsonb<'_> {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> EncodeResult {
        out.put_u8(1);
        out.put_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB
    }

    to_sql_checked!();
}

/// Microseconds since 2000-01-01 00:00 UTC (PostgreSQL's epoch), as a timestamptz.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Timestamp(pub(super) i64);

impl ToSql for Timestamp {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> EncodeResult {
        out.put_i64(self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ
    }

    to_sql_checked!();
}

/// Days since 2000-01-01, as a date.
#[derive(Debug, Clone, Copy)]
pub(super) struct Date(pub(super) i32);

impl Date {
    pub(super) fn of(at: Timestamp) -> Date {
        // Timestamps are within a few years of 2000: the day count fits an i32.
        Date(at.0.div_euclid(DAY) as i32)
    }
}

impl ToSql for Date {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> EncodeResult {
        out.put_i32(self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::DATE
    }

    to_sql_checked!();
}

/// A non-negative amount in hundredths (`1234.50` is 123450), as a numeric with two decimals.
#[derive(Debug, Clone, Copy)]
pub(super) struct Hundredths(pub(super) u64);

impl ToSql for Hundredths {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> EncodeResult {
        encode_numeric(self.0, out);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }

    to_sql_checked!();
}

/// numeric's binary form: digit count, weight (base-10000 exponent of the first digit), sign,
/// display scale, then the base-10000 digits.
pub(super) fn encode_numeric(hundredths: u64, out: &mut BytesMut) {
    let mut groups = [0u16; 6];
    let mut n_integer = 0;
    let mut integer = hundredths / 100;
    while integer > 0 {
        groups[n_integer] = (integer % 10_000) as u16;
        integer /= 10_000;
        n_integer += 1;
    }
    groups[..n_integer].reverse();
    let fraction = ((hundredths % 100) * 100) as u16;
    groups[n_integer] = fraction;
    let mut n_digits = n_integer + 1;
    // Trailing zero digits are implied by the weight: leave them out, as PostgreSQL does.
    while n_digits > 0 && groups[n_digits - 1] == 0 {
        n_digits -= 1;
    }
    out.put_i16(n_digits as i16);
    // The weight of zero (no digits) is 0, as PostgreSQL sends it.
    out.put_i16(match (n_integer, n_digits) {
        (_, 0) => 0,
        (0, _) => -1,
        _ => n_integer as i16 - 1,
    });
    out.put_u16(0); // positive
    out.put_u16(2); // two decimals
    for digit in &groups[..n_digits] {
        out.put_u16(*digit);
    }
}
