//! Words in messages: counts with the right plural, durations in milliseconds for people.

/// `1 key`, `0 keys`, `3 keys`: a count and its noun, singular for exactly one.
pub fn count<N>(n: N, noun: &str) -> String
where
    N: Copy + PartialEq + From<u8> + std::fmt::Display,
{
    if n == N::from(1) {
        format!("{n} {noun}")
    } else {
        format!("{n} {}", plural(noun))
    }
}

/// The plural of a noun (of its last word) as messages use them: `key` -> `keys`, `batch` ->
/// `batches`, `index` -> `indexes`, `policy` -> `policies`.
pub fn plural(noun: &str) -> String {
    if noun.ends_with(['s', 'x', 'z']) || noun.ends_with("ch") || noun.ends_with("sh") {
        return format!("{noun}es");
    }
    if let Some(stem) = noun.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        return format!("{stem}ies");
    }
    format!("{noun}s")
}

/// Milliseconds as a short human duration: `850 ms`, `2.4 s`, `3 min 5 s`.
pub fn human_ms(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms} ms"),
        1000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}
