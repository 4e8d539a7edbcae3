//! Time zones for the timestamp getters that take one (`t.getHours("Europe/Paris")`).
//!
//! A bundle carries the UTC-offset history of the zones its conditions name, taken from the
//! IANA database when it is compiled; evaluation reads only that table. So no runtime needs
//! a time-zone database (the WebAssembly component leaves it out: it was most of its size),
//! and every runtime answers from the same data: the bundle, not the host, decides what
//! 14:00 in Paris was. A condition whose zone is not a literal (`t.getHours(P.attr.tz)`)
//! makes the bundle carry every zone.
//!
//! The parser rewrites `t.getX(tz)` to `@inZone(t, tz, @zones).getX()` (see `macros.rs`);
//! `@zones` is the bundle's table.

use super::walk::visit;
use cel::common::ast::{Expr, IdedExpr, LiteralValue};
use cel::objects::Opaque;
use chrono::{DateTime, FixedOffset, Offset, TimeZone};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The function the getters' zone argument goes through.
pub(crate) const IN_ZONE_FN: &str = "@inZone";
/// The variable holding the bundle's zones.
pub(crate) const ZONES_VAR: &str = "@zones";

/// One zone's offset from UTC in seconds: `initial`, then each change at a UTC instant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct Zone {
    initial: i32,
    changes: Vec<(i64, i32)>,
}

impl Zone {
    /// The offset in force at `utc` (seconds since the epoch).
    pub(crate) fn offset_at(&self, utc: i64) -> i32 {
        let n = self.changes.partition_point(|&(at, _)| at <= utc);
        n.checked_sub(1).and_then(|i| self.changes.get(i)).map_or(self.initial, |&(_, offset)| offset)
    }
}

/// The zones a bundle carries, by IANA name. Names with the same history share one table
/// (597 names have 339 distinct histories).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Zones {
    names: BTreeMap<String, u32>,
    tables: Vec<Zone>,
}

impl Opaque for Zones {
    fn runtime_type_name(&self) -> &str {
        "authz.zones"
    }
}

impl Zones {
    /// `t` seen from `tz`: an IANA name this table carries, `±HH:MM`, or empty for UTC —
    /// the forms cel-go's timestamp getters accept.
    pub(crate) fn shift(&self, t: &DateTime<FixedOffset>, tz: &str) -> Result<DateTime<FixedOffset>, String> {
        let seconds = match tz.split_once(':') {
            None if tz.is_empty() => 0,
            None => match self.names.get(tz).and_then(|&i| self.tables.get(i as usize)) {
                Some(zone) => zone.offset_at(t.timestamp()),
                None => return Err(format!("unknown time zone {tz}")),
            },
            Some((hours, minutes)) => fixed_offset(tz, hours, minutes)?,
        };
        let offset = FixedOffset::east_opt(seconds).ok_or_else(|| format!("time zone offset out of range: {tz}"))?;
        Ok(t.with_timezone(&offset))
    }

    /// The table for the zones `refs` names, from the IANA database this engine was built with.
    pub(crate) fn from_refs(refs: &ZoneRefs) -> Self {
        let mut zones = Zones::default();
        let mut seen: HashMap<Zone, u32> = HashMap::new();
        let all = chrono_tz::TZ_VARIANTS.iter();
        for &tz in all.filter(|tz| refs.dynamic || refs.names.contains(tz.name())) {
            let zone = derive(tz);
            let next = u32::try_from(zones.tables.len()).unwrap_or(u32::MAX);
            let index = *seen.entry(zone.clone()).or_insert(next);
            if index == next {
                zones.tables.push(zone);
            }
            zones.names.insert(tz.name().to_string(), index);
        }
        zones
    }

    /// How many zones the table carries.
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }
}

fn fixed_offset(tz: &str, hours: &str, minutes: &str) -> Result<i32, String> {
    let hr: i32 = hours.parse().map_err(|e| format!("{e}: {tz}"))?;
    let min: i32 = minutes.parse().map_err(|e| format!("{e}: {tz}"))?;
    if !(-23..=23).contains(&hr) {
        return Err(format!("timezone offset hours out of range [-23, 23]: {tz}"));
    }
    if !(0..=59).contains(&min) {
        return Err(format!("timezone offset minutes out of range [0, 59]: {tz}"));
    }
    let total = if hours.starts_with('-') { hr * 60 - min } else { hr * 60 + min };
    Ok(total * 60)
}

/// The zones an expression names.
#[derive(Debug, Default)]
pub(crate) struct ZoneRefs {
    names: BTreeSet<String>,
    /// Some zone argument is computed: every zone is needed.
    dynamic: bool,
}

impl ZoneRefs {
    /// Adds the zones `e` names; a literal that names no zone is an error.
    pub(crate) fn add(&mut self, e: &IdedExpr) -> Result<(), String> {
        let mut unknown = Ok(());
        visit(e, &mut |e| {
            let Expr::Call(c) = &e.expr else { return };
            if c.func_name != IN_ZONE_FN {
                return;
            }
            match c.args.get(1).map(|a| &a.expr) {
                Some(Expr::Literal(LiteralValue::String(s))) => {
                    let name: &str = s.inner();
                    if name.is_empty() || name.contains(':') {
                        return; // UTC or a fixed offset: checked when evaluated, needs no data.
                    }
                    if name.parse::<chrono_tz::Tz>().is_ok() {
                        self.names.insert(name.to_string());
                    } else if unknown.is_ok() {
                        unknown = Err(format!("unknown time zone `{name}`"));
                    }
                }
                _ => self.dynamic = true,
            }
        });
        unknown
    }
}

/// 1800-01-01T00:00:00Z: the database has no change before it (tested).
const SCAN_FROM: i64 = -5_364_662_400;
/// 2100-01-01T00:00:00Z: the database has no change after it (tested).
const SCAN_TO: i64 = 4_102_444_800;
/// Changes are found by sampling once a day, then bisecting to the second: an offset that
/// changed and changed back within a day would be missed. The tests compare every zone with
/// the database at each change found (±1 s) and every 25,201 s from 1900 to 2040.
const STEP: i64 = 86_400;

fn offset(tz: chrono_tz::Tz, utc: i64) -> i32 {
    let t = DateTime::from_timestamp(utc, 0).unwrap_or_default().naive_utc();
    tz.offset_from_utc_datetime(&t).fix().local_minus_utc()
}

/// A zone's offset history, read from the database by sampling.
fn derive(tz: chrono_tz::Tz) -> Zone {
    let initial = offset(tz, SCAN_FROM);
    let (mut changes, mut current, mut t) = (Vec::new(), initial, SCAN_FROM);
    while t < SCAN_TO {
        let next = t.saturating_add(STEP);
        if offset(tz, next) == current {
            t = next;
            continue;
        }
        // Invariant: offset(lo) == current != offset(hi).
        let (mut lo, mut hi) = (t, next);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if offset(tz, mid) == current {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        current = offset(tz, hi);
        changes.push((hi, current));
        t = hi;
    }
    Zone { initial, changes }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test")]
mod tests {
    use super::*;

    /// Every zone's table agrees with the database: at each change found and a second either
    /// side of it, every 25,201 s (7 h 1 s) from 1900 to 2040, and far outside the sampled
    /// range.
    #[test]
    fn tables_agree_with_the_database_for_every_zone() {
        let hour = 3_600;
        for &tz in chrono_tz::TZ_VARIANTS.iter() {
            let zone = derive(tz);
            let mut probes: Vec<i64> = zone.changes.iter().flat_map(|&(at, _)| [at - 1, at, at + 1]).collect();
            probes.extend((-2_208_988_800..2_208_988_800).step_by(hour * 7 + 1)); // 1900..2040
            probes.extend([i64::from(i32::MIN) * 40, -30_000_000_000, SCAN_FROM - 1, SCAN_TO + 1, 32_503_680_000]);
            for t in probes {
                assert_eq!(zone.offset_at(t), offset(tz, t), "{} at {t}", tz.name());
            }
        }
    }

    #[test]
    fn aliases_share_one_table() {
        let all = Zones::from_refs(&ZoneRefs { names: BTreeSet::new(), dynamic: true });
        assert_eq!(all.len(), chrono_tz::TZ_VARIANTS.len());
        assert!(all.tables.len() < all.len());
        assert_eq!(all.names["US/Eastern"], all.names["America/New_York"]);
        assert_ne!(all.names["Europe/Paris"], all.names["America/New_York"]);
    }

    #[test]
    fn known_offsets() {
        let refs = ZoneRefs { names: ["America/New_York".to_string()].into(), dynamic: false };
        let zones = Zones::from_refs(&refs);
        assert_eq!(zones.len(), 1);
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap();
        // EDT (UTC-4) in July, EST (UTC-5) in January; the 2007 US rule change.
        let ny = |s: &str| zones.shift(&t(s), "America/New_York").unwrap().offset().local_minus_utc() / 3_600;
        assert_eq!(ny("2024-07-01T12:00:00Z"), -4);
        assert_eq!(ny("2024-01-15T12:00:00Z"), -5);
        assert_eq!(ny("2006-03-20T12:00:00Z"), -5);
        assert_eq!(ny("2007-03-20T12:00:00Z"), -4);
        assert!(zones.shift(&t("2024-07-01T12:00:00Z"), "Europe/Paris").unwrap_err().contains("unknown time zone"));
        let shifted = zones.shift(&t("2024-07-01T12:00:00Z"), "-05:30").unwrap();
        assert_eq!(shifted.offset().local_minus_utc(), -(5 * 3_600 + 30 * 60));
        assert!(zones.shift(&t("2024-07-01T12:00:00Z"), "+24:00").is_err());
    }
}
