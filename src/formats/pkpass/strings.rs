//! Apple `.strings` files: one `"key" = "value";` line for each text, UTF-8 without a byte order
//! mark.

/// Escapes `text` for a quoted `.strings` value: backslash, double quote and the line breaks and
/// tab, which may not appear raw inside the quotes.
pub fn escape_strings_value(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 8);
    for character in text.chars() {
        match character {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// Writes a `.strings` file with one line for each `(key, value)`.
pub fn strings_file(entries: Vec<(String, String)>) -> String {
    let mut file = String::new();
    for (key, value) in entries {
        file.push('"');
        file.push_str(&escape_strings_value(&key));
        file.push_str("\" = \"");
        file.push_str(&escape_strings_value(&value));
        file.push_str("\";\n");
    }
    file
}
