//! `--format`: Go templates as podman users type them (`{{.State.Status}}`, `{{json .}}`,
//! `{{range}}`, `table ...`), rendered with gtmpl over the same JSON that `--format json`
//! prints.

use anyhow::{anyhow, Result};
use gtmpl::{Context, Template};
use gtmpl_value::{FuncError, Number, Value};
use serde_json::Value as Json;

/// Fields that are maps in podman's and Docker's Go types. A key a map lacks is `<no value>`
/// in a Go template (`{{.Labels.app}}` of a container without that label), where a
/// struct's missing field is an error (`{{.Nmae}}`); the template engine draws the same
/// line between its maps and its objects.
const GO_MAP_FIELDS: &[&str] = &[
    "Labels",
    "Annotations",
    "Attributes",
    "Options",
    "DriverOpts",
    "Sysctls",
    "Tmpfs",
    "StorageOpt",
    "ExposedPorts",
    "Volumes",
    "Networks",
    "Ports",
    "PortBindings",
    "IPAMOptions",
    "Data",
    "GraphOptions",
    "GraphStatus",
];

/// JSON → template value.
pub fn to_value(json: &Json) -> Value {
    value_of(json, false)
}

/// `json` as a template value; `go_map` when it is the value of one of [`GO_MAP_FIELDS`].
/// (A `null` one stays nothing, which `json` prints as podman prints a nil map: `null`.)
fn value_of(json: &Json, go_map: bool) -> Value {
    match json {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Number(Number::from(i))
            } else if let Some(u) = n.as_u64() {
                Value::Number(Number::from(u))
            } else {
                Value::Number(Number::from(n.as_f64().unwrap_or(0.0)))
            }
        }
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::Array(items.iter().map(to_value).collect()),
        // A map's keys are data (a label named `Labels` is no field), its values not maps.
        Json::Object(map) if go_map => {
            Value::Map(map.iter().map(|(k, v)| (k.clone(), to_value(v))).collect())
        }
        Json::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), value_of(v, GO_MAP_FIELDS.contains(&k.as_str()))))
                .collect(),
        ),
    }
}

/// Template value → JSON (for the `json` function).
fn to_json(value: &Value) -> Json {
    match value {
        Value::NoValue | Value::Nil | Value::Function(_) => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::String(s) => Json::String(s.clone()),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Json::from(i)
            } else if let Some(u) = n.as_u64() {
                Json::from(u)
            } else {
                Json::from(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Object(map) | Value::Map(map) => {
            let sorted: std::collections::BTreeMap<_, _> =
                map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect();
            Json::Object(sorted.into_iter().collect())
        }
    }
}

fn one_arg<'a>(name: &str, args: &'a [Value]) -> Result<&'a Value, FuncError> {
    match args {
        [value] => Ok(value),
        _ => Err(FuncError::ExactlyXArgs(name.into(), 1)),
    }
}

fn string_arg(name: &str, args: &[Value]) -> Result<String, FuncError> {
    match one_arg(name, args)? {
        Value::String(s) => Ok(s.clone()),
        other => Ok(other.to_string()),
    }
}

fn json_func(args: &[Value]) -> Result<Value, FuncError> {
    let json = to_json(one_arg("json", args)?);
    serde_json::to_string(&json)
        .map(Value::String)
        .map_err(|e| FuncError::Generic(e.to_string()))
}

/// Go's `fmt` rendering of a value: `[a b]` for lists, `map[k:v]` for maps.
fn go_string(value: &Value) -> String {
    match value {
        Value::NoValue => "<no value>".into(),
        Value::Nil => "<nil>".into(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(go_string).collect::<Vec<_>>().join(" ")
        ),
        // An empty struct, as the values of `ExposedPorts` and `Volumes` are in Go
        // (`map[80/tcp:{}]`); maps are `Value::Map`.
        Value::Object(map) if map.is_empty() => "{}".into(),
        Value::Object(map) | Value::Map(map) => {
            let sorted: std::collections::BTreeMap<_, _> = map.iter().collect();
            format!(
                "map[{}]",
                sorted
                    .into_iter()
                    .map(|(k, v)| format!("{k}:{}", go_string(v)))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
        other => other.to_string(),
    }
}

fn goprint_func(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(go_string(one_arg("goprint", args)?)))
}

/// One `{{...}}` action: its trim markers (Go's `{{- ` and ` -}}`, spaces included) and
/// its words between them.
struct Action<'a> {
    left: &'static str,
    words: &'a str,
    right: &'static str,
}

/// Each action of `body` given to `rewrite`, replaced by what it returns (kept as it is
/// when it returns None).
fn rewrite_actions(body: &str, rewrite: impl Fn(&Action) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        let whole = &rest[start..start + len + 2];
        let inner = &whole[2..whole.len() - 2];
        let left = if inner.starts_with("- ") { "- " } else { "" };
        let right = if inner.ends_with(" -") { " -" } else { "" };
        let words = inner[left.len()..inner.len() - right.len()].trim();
        let action = Action { left, words, right };
        out.push_str(&rewrite(&action).unwrap_or_else(|| whole.to_string()));
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// A field or a variable alone (`.Names`, `.`, `$v`, `$v.Name`).
fn is_bare(words: &str) -> bool {
    (words.starts_with('.') || words.starts_with('$'))
        && words
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '$' | '_'))
}

/// Whether an action prints what its pipeline gives: not a control word (`if`, `end`,
/// `range`, ...), a comment, or a variable's declaration or assignment (`$x := ...`,
/// `$i, $v := range ...` is caught by `range` already).
fn prints_its_pipeline(words: &str) -> bool {
    const CONTROL: [&str; 10] = [
        "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
    ];
    let first = words.split_whitespace().next().unwrap_or("");
    if words.is_empty() || words.starts_with("/*") || CONTROL.contains(&first) {
        return false;
    }
    match words.strip_prefix('$') {
        Some(variable) => {
            let after_name = variable
                .trim_start_matches(|c: char| c.is_alphanumeric() || c == '_')
                .trim_start();
            !(after_name.starts_with(":=") || after_name.starts_with('='))
        }
        None => true,
    }
}

/// Wrap every action that prints in `goprint`, so that lists and maps print as Go prints
/// them (`[a b]`, `map[k:v]`) whether they come from a field (`{{.Names}}`, `{{$v}}`) or a
/// function (`{{split .Name "-"}}`, `{{.Labels | len}}`): gtmpl prints them in Rust's
/// debug form.
fn wrap_printing_actions(body: &str) -> String {
    rewrite_actions(body, |action| {
        let Action { left, words, right } = action;
        if is_bare(words) {
            Some(format!("{{{{{left}goprint {words}{right}}}}}"))
        } else {
            prints_its_pipeline(words).then(|| format!("{{{{{left}goprint ({words}){right}}}}}"))
        }
    })
}

/// What a `range` over a map or list walks, in Go's order: a map's entries sorted by key
/// (gtmpl walks its hash map's order), a list's as they are; nothing for nil, as Go.
fn range_entries(value: &Value) -> Vec<(Value, Value)> {
    match value {
        Value::Object(map) | Value::Map(map) => {
            let sorted: std::collections::BTreeMap<_, _> = map.iter().collect();
            sorted
                .into_iter()
                .map(|(k, v)| (Value::String(k.clone()), v.clone()))
                .collect()
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (Value::from(i as u64), v.clone()))
            .collect(),
        _ => Vec::new(),
    }
}

/// `rangepairs X`: X's entries as `[key, value]` lists, for a two-variable range.
fn range_pairs_func(args: &[Value]) -> Result<Value, FuncError> {
    let value = one_arg("rangepairs", args)?;
    Ok(Value::Array(
        range_entries(value)
            .into_iter()
            .map(|(k, v)| Value::Array(vec![k, v]))
            .collect(),
    ))
}

/// `rangevalues X`: X's values, for a range with one variable or none.
fn range_values_func(args: &[Value]) -> Result<Value, FuncError> {
    let value = one_arg("rangevalues", args)?;
    match value {
        Value::Object(_) | Value::Map(_) | Value::Nil | Value::NoValue => Ok(Value::Array(
            range_entries(value).into_iter().map(|(_, v)| v).collect(),
        )),
        // Anything else is ranged over as given (a list; or an error, as before).
        other => Ok(other.clone()),
    }
}

/// Rewrite `range` actions over a field or variable so that maps are walked in Go's
/// order: `{{range $k, $v := .Labels}}` becomes a range over `rangepairs .Labels` that
/// sets `$k` and `$v` first thing in its body; `{{range .Labels}}` and
/// `{{range $v := .Labels}}` range over `rangevalues .Labels`. Other pipelines are left
/// to gtmpl.
fn sort_ranges(body: &str) -> String {
    rewrite_actions(body, sorted_range)
}

/// One `{{range ...}}` action rewritten, or None when it is something else.
fn sorted_range(action: &Action) -> Option<String> {
    let Action { left, words, right } = action;
    let rest = words.strip_prefix("range")?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let (variables, pipeline) = match rest.split_once(":=") {
        Some((variables, pipeline)) => (variables.trim(), pipeline.trim()),
        None => ("", rest.trim()),
    };
    if !is_bare(pipeline) {
        return None;
    }
    let names: Vec<&str> = variables
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if !names.iter().all(|n| n.starts_with('$') && is_bare(n)) {
        return None;
    }
    Some(match names.as_slice() {
        [] => format!("{{{{{left}range rangevalues {pipeline}{right}}}}}"),
        [value] => format!("{{{{{left}range {value} := rangevalues {pipeline}{right}}}}}"),
        [key, value] => format!(
            "{{{{{left}range $rpodindex, $rpodpair := rangepairs {pipeline}}}}}\
             {{{{{key} := index $rpodpair 0}}}}{{{{{value} := index $rpodpair 1{right}}}}}"
        ),
        _ => return None,
    })
}

/// `len`: gtmpl's, which does not count a map's entries.
fn len_func(args: &[Value]) -> std::result::Result<Value, FuncError> {
    match args {
        [Value::Map(map)] => Ok(Value::from(map.len() as u64)),
        _ => gtmpl::funcs::len(args),
    }
}

/// `index`: gtmpl's, but a key a map lacks is the empty string, as Go's `index` gives a
/// map's zero value (`{{index .Labels "app"}}` of a container without it prints nothing).
fn index_func(args: &[Value]) -> std::result::Result<Value, FuncError> {
    match gtmpl::funcs::index(args)? {
        Value::NoValue => Ok(Value::String(String::new())),
        found => Ok(found),
    }
}

/// `printf` as Go's: strings, lists, maps and booleans under `%s` and `%v` right-aligned
/// in a width unless `-` (gtmpl's aligns them left), lists and maps printed as Go prints
/// them (maps sorted), integers aligned by `-` and zero-padded by `0` (gtmpl ignores both
/// for them), `%%` a percent sign (gtmpl prints both). Other verbs are gtmpl's, one at a
/// time.
fn printf_func(args: &[Value]) -> Result<Value, FuncError> {
    let Some((Value::String(format), values)) = args.split_first() else {
        return gtmpl::funcs::printf(args);
    };
    let mut out = String::new();
    let mut values = values.iter();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        // The characters `wanted` takes, from here on.
        let mut take = |wanted: fn(char) -> bool| {
            let mut taken = String::new();
            while let Some(&c) = chars.peek().filter(|c| wanted(**c)) {
                taken.push(c);
                chars.next();
            }
            taken
        };
        let flags = take(|c| "-+# 0".contains(c));
        let width = take(|c| c.is_ascii_digit());
        let point = take(|c| c == '.');
        let precision = (!point.is_empty()).then(|| take(|c| c.is_ascii_digit()));
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(value) = values.next() else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        let textual = matches!(
            value,
            Value::String(_) | Value::Array(_) | Value::Map(_) | Value::Object(_) | Value::Bool(_)
        );
        let integer = match value {
            Value::Number(n) if matches!(verb, 'd' | 'v') => n
                .as_i64()
                .map(|i| i.to_string())
                .or_else(|| n.as_u64().map(|u| u.to_string())),
            _ => None,
        };
        let text = match (verb, textual, integer) {
            // Go's double-quoted string (JSON's escapes are Go's but for control bytes).
            ('q', _, _) if matches!(value, Value::String(_)) => {
                serde_json::to_string(&text_of(value)).unwrap_or_default()
            }
            ('s' | 'v', true, _) => {
                let text = go_string(value);
                match precision.as_deref().and_then(|d| d.parse::<usize>().ok()) {
                    Some(limit) => text.chars().take(limit).collect(),
                    None => text,
                }
            }
            (_, _, Some(digits)) if flags.contains('+') && !digits.starts_with('-') => {
                format!("+{digits}")
            }
            (_, _, Some(digits)) => digits,
            _ => {
                let mut spec = format!("%{flags}{width}");
                if let Some(digits) = &precision {
                    spec.push('.');
                    spec.push_str(digits);
                }
                spec.push(verb);
                match gtmpl::funcs::printf(&[Value::String(spec), value.clone()])? {
                    Value::String(text) => out.push_str(&text),
                    other => out.push_str(&other.to_string()),
                }
                continue;
            }
        };
        let width = width.parse::<usize>().unwrap_or(0);
        let missing = width.saturating_sub(text.chars().count());
        if flags.contains('-') {
            out.push_str(&text);
            out.push_str(&" ".repeat(missing));
        } else if flags.contains('0') && !textual {
            // Zeros go after the sign, as Go's `%05d`.
            let (sign, digits) = text.split_at(usize::from(text.starts_with(['-', '+'])));
            out.push_str(sign);
            out.push_str(&"0".repeat(missing));
            out.push_str(digits);
        } else {
            out.push_str(&" ".repeat(missing));
            out.push_str(&text);
        }
    }
    Ok(Value::String(out))
}

fn upper_func(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(string_arg("upper", args)?.to_uppercase()))
}

fn lower_func(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(string_arg("lower", args)?.to_lowercase()))
}

fn join_func(args: &[Value]) -> Result<Value, FuncError> {
    let (items, separator) = match args {
        [Value::Array(items), separator] => (items, separator),
        // Two words, but the first no list (`join .Names ","`: Names is one string).
        [other, _] => {
            return Err(FuncError::Generic(format!(
                "join: the first argument must be a list, not {}",
                value_kind(other)
            )))
        }
        _ => return Err(FuncError::ExactlyXArgs("join".into(), 2)),
    };
    let separator = match separator {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Ok(Value::String(
        items
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(&separator),
    ))
}

/// What kind of value a template function was given, for its error message.
fn value_kind(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Map(_) | Value::Object(_) => "a map",
        Value::Array(_) => "a list",
        Value::Nil | Value::NoValue => "nothing",
        Value::Function(_) => "a function",
    }
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn count_arg(name: &str, value: &Value) -> Result<usize, FuncError> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .map(|n| n as usize)
            .ok_or_else(|| FuncError::Generic(format!("{name}: a count must not be negative"))),
        _ => Err(FuncError::Generic(format!("{name}: expected a number"))),
    }
}

/// `title`: each word with a capital first letter.
fn title_func(args: &[Value]) -> Result<Value, FuncError> {
    let text = string_arg("title", args)?;
    let mut out = String::with_capacity(text.len());
    let mut start = true;
    for c in text.chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric();
    }
    Ok(Value::String(out))
}

/// `truncate TEXT N`: at most N characters.
fn truncate_func(args: &[Value]) -> Result<Value, FuncError> {
    let [text, count] = args else {
        return Err(FuncError::ExactlyXArgs("truncate".into(), 2));
    };
    let count = count_arg("truncate", count)?;
    Ok(Value::String(text_of(text).chars().take(count).collect()))
}

/// `slice X [FROM [TO]]`, Go's: part of a text (by bytes, as Go's) or of a list,
/// `{{slice .ID 0 12}}`; out of range or not on a character's boundary is an error.
fn slice_func(args: &[Value]) -> Result<Value, FuncError> {
    let Some((item, bounds)) = args.split_first() else {
        return Err(FuncError::AtLeastXArgs("slice".into(), 1));
    };
    if bounds.len() > 2 {
        return Err(FuncError::Generic(
            "slice: at most two indexes for a text or a list".into(),
        ));
    }
    let bounds = bounds
        .iter()
        .map(|b| count_arg("slice", b))
        .collect::<Result<Vec<_>, _>>()?;
    let range = |len: usize| -> Result<std::ops::Range<usize>, FuncError> {
        let from = bounds.first().copied().unwrap_or(0);
        let to = bounds.get(1).copied().unwrap_or(len);
        match from <= to && to <= len {
            true => Ok(from..to),
            false => Err(FuncError::Generic(format!(
                "slice: index out of range: [{from}:{to}] of {len}"
            ))),
        }
    };
    match item {
        Value::String(text) => text
            .get(range(text.len())?)
            .map(|part| Value::String(part.to_string()))
            .ok_or_else(|| FuncError::Generic("slice: not on a character's boundary".into())),
        Value::Array(items) => Ok(Value::Array(items[range(items.len())?].to_vec())),
        other => Err(FuncError::Generic(format!(
            "slice: can't slice {}",
            value_kind(other)
        ))),
    }
}

/// `html TEXT`, Go's: the text with `&`, `<`, `>`, `"` and `'` escaped for HTML.
fn html_func(args: &[Value]) -> Result<Value, FuncError> {
    let text: String = args.iter().map(text_of).collect();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    Ok(Value::String(out))
}

/// `urlquery TEXT`, Go's: the text escaped for a URL's query (a space is `+`).
fn urlquery_func(args: &[Value]) -> Result<Value, FuncError> {
    let text: String = args.iter().map(text_of).collect();
    Ok(Value::String(rpod_engine::logs::query_escape(&text)))
}

/// `split TEXT SEPARATOR`: a list.
fn split_func(args: &[Value]) -> Result<Value, FuncError> {
    let [text, separator] = args else {
        return Err(FuncError::ExactlyXArgs("split".into(), 2));
    };
    let separator = text_of(separator);
    let text = text_of(text);
    let parts: Vec<Value> = if separator.is_empty() {
        text.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        text.split(separator.as_str())
            .map(|p| Value::String(p.to_string()))
            .collect()
    };
    Ok(Value::Array(parts))
}

/// `pad TEXT LEFT RIGHT`: spaces before and after, as podman's.
fn pad_func(args: &[Value]) -> Result<Value, FuncError> {
    let [text, left, right] = args else {
        return Err(FuncError::ExactlyXArgs("pad".into(), 3));
    };
    let (left, right) = (count_arg("pad", left)?, count_arg("pad", right)?);
    Ok(Value::String(format!(
        "{}{}{}",
        " ".repeat(left),
        text_of(text),
        " ".repeat(right)
    )))
}

/// A parsed `--format` value.
pub struct Format {
    template: Template,
    table: bool,
    /// Column headers for `table` formats.
    headers: Option<String>,
}

/// Turn typed escapes (`\t`, `\n`) between the template's actions into the characters, as
/// podman does. Inside an action (`{{"\n"}}`, `{{join .Names "\n"}}`) they are the
/// template's own string escapes, which its parser reads: a newline put there would end
/// the string too early ("unterminated quoted string"). Written by hand: the template
/// crate has no hook for text between actions.
fn unescape(text: &str) -> String {
    between_actions(text, |outside| {
        outside.replace("\\t", "\t").replace("\\n", "\n")
    })
}

/// `text` with `change` made to what lies between its actions; the actions as they are.
fn between_actions(text: &str, change: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let (outside, action) = match rest.find("{{") {
            Some(start) => rest.split_at(start),
            None => (rest, ""),
        };
        out.push_str(&change(outside));
        let end = action_end(action);
        out.push_str(&action[..end]);
        rest = &action[end..];
    }
    out
}

/// The length of the action `text` starts with (`{{ ... }}`), its quoted strings skipped
/// so that a `}}` inside one does not end it; all of `text` when it never ends.
fn action_end(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut i = 2.min(bytes.len());
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        match (quote, bytes[i]) {
            (Some(b'"' | b'\''), b'\\') => i += 1,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, c @ (b'"' | b'`' | b'\'')) => quote = Some(c),
            (None, b'}') if bytes.get(i + 1) == Some(&b'}') => return i + 2,
            (None, _) => {}
        }
        i += 1;
    }
    bytes.len()
}

/// The template library names the whole object a field was missing from; one line that
/// says which field is what a person needs.
fn short_template_error(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message);
    let cut = first
        .find(" for {")
        .or_else(|| first.find(" for ["))
        .unwrap_or(first.len());
    let mut short = first[..cut].to_string();
    if short.len() > 200 {
        short.truncate(200);
        short.push_str("...");
    }
    short
}

impl Format {
    /// `header_for` names the column of a field (`ID` → `CONTAINER ID`).
    pub fn parse(text: &str, header_for: &dyn Fn(&str) -> String) -> Result<Format> {
        // In a table every space between actions separates columns, as in podman's (which
        // turns them into tabs before its template runs): `table {{.ID}} {{.Names}}` has
        // two columns. A space inside an action is the action's (`{{join .Names ", "}}`).
        let (table, body) = match text.strip_prefix("table") {
            Some(rest) => (
                true,
                between_actions(rest.trim_start(), |outside| outside.replace(' ', "\t")),
            ),
            None => (false, text.to_string()),
        };
        let body = unescape(&body);
        let headers = table.then(|| header_line(&body, header_for));
        let mut template = Template::default();
        template.add_funcs(&[
            ("json", json_func as gtmpl_value::Func),
            ("upper", upper_func as gtmpl_value::Func),
            ("lower", lower_func as gtmpl_value::Func),
            ("join", join_func as gtmpl_value::Func),
            ("title", title_func as gtmpl_value::Func),
            ("truncate", truncate_func as gtmpl_value::Func),
            ("split", split_func as gtmpl_value::Func),
            ("pad", pad_func as gtmpl_value::Func),
            ("goprint", goprint_func as gtmpl_value::Func),
            ("rangepairs", range_pairs_func as gtmpl_value::Func),
            ("rangevalues", range_values_func as gtmpl_value::Func),
            ("printf", printf_func as gtmpl_value::Func),
            ("index", index_func as gtmpl_value::Func),
            ("len", len_func as gtmpl_value::Func),
            ("slice", slice_func as gtmpl_value::Func),
            ("html", html_func as gtmpl_value::Func),
            ("urlquery", urlquery_func as gtmpl_value::Func),
        ]);
        template
            .parse(wrap_printing_actions(&sort_ranges(&body)))
            .map_err(|e| anyhow!("template parsing error: {e}"))?;
        Ok(Format {
            template,
            table,
            headers,
        })
    }

    /// Render every item; table formats get a header row and aligned columns.
    pub fn render_all(&self, items: &[Json]) -> Result<String> {
        let mut lines = Vec::new();
        if let Some(headers) = &self.headers {
            lines.push(headers.clone());
        }
        for item in items {
            let rendered = self
                .template
                .render(&Context::from(to_value(item)))
                .map_err(|e| anyhow!("template: {}", short_template_error(&e.to_string())))?;
            lines.push(rendered.trim_end_matches('\n').to_string());
        }
        let mut out = if self.table {
            align_columns(&lines)
        } else {
            lines.join("\n")
        };
        if !out.is_empty() {
            out.push('\n');
        }
        Ok(out)
    }
}

/// Header row of a table template: each `{{.Field}}` becomes its column name.
fn header_line(body: &str, header_for: &dyn Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            break;
        };
        let action = rest[start + 2..start + end].trim();
        let field = action
            .split_whitespace()
            .find(|w| w.starts_with('.'))
            .map(|w| w.trim_start_matches('.').to_string())
            .unwrap_or_default();
        out.push_str(&header_for(&field));
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

/// The narrowest a table's column is, its two spaces of padding included: podman's tables
/// (Go's tabwriter, as podman sets it up) never make a column narrower.
const MIN_COLUMN_WIDTH: usize = 12;

/// JSON printed with podman's indentation for the command (it differs between commands:
/// one space for `stats`, five for `pod stats` and `diff`).
pub fn print_json_indented(value: &impl serde::Serialize, indent: &[u8]) -> Result<()> {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(indent);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    value.serialize(&mut serializer)?;
    println!("{}", String::from_utf8_lossy(&out));
    Ok(())
}

/// Align tab-separated columns with at least two spaces between them, each column at least
/// `MIN_COLUMN_WIDTH` wide; the last cell of a line is not padded.
pub fn align_columns(lines: &[String]) -> String {
    let rows: Vec<Vec<&str>> = lines.iter().map(|l| l.split('\t').collect()).collect();
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![MIN_COLUMN_WIDTH; columns];
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count() + 2);
        }
    }
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                line.push_str(cell);
                if i + 1 < row.len() {
                    let pad = widths[i] - cell.chars().count();
                    line.push_str(&" ".repeat(pad));
                }
            }
            line.trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Print items with a user's `--format`: `json` prints a JSON array; anything else is a
/// template.
pub fn print(format: &str, items: &[Json], header_for: &dyn Fn(&str) -> String) -> Result<()> {
    if format == "json" || format == "{{json .}}" && items.len() != 1 {
        println!(
            "{}",
            serde_json::to_string_pretty(&Json::Array(items.to_vec()))?
        );
        return Ok(());
    }
    let parsed = Format::parse(format, header_for)?;
    print!("{}", parsed.render_all(items)?);
    Ok(())
}

/// `print` without a table's header row (`--noheading`); columns stay aligned.
pub fn print_without_header(format: &str, items: &[Json]) -> Result<()> {
    if format == "json" {
        return print(format, items, &upper_header);
    }
    let mut parsed = Format::parse(format, &upper_header)?;
    parsed.headers = None;
    print!("{}", parsed.render_all(items)?);
    Ok(())
}

/// `format` over `rows`: `print`, or `print_without_header` for `--noheading`.
pub fn print_table(
    format: &str,
    rows: &[Json],
    header_for: &dyn Fn(&str) -> String,
    no_heading: bool,
) -> Result<()> {
    match no_heading {
        true => print_without_header(format, rows),
        false => print(format, rows, header_for),
    }
}

/// The fields of inspect that are times (`time.Time` in podman's Go types).
const TIME_FIELDS: [&str; 7] = [
    "Created",
    "CreatedAt",
    "StartedAt",
    "FinishedAt",
    "CheckpointedAt",
    "RestoredAt",
    "LastTagTime",
];

/// Inspect's times as a Go template prints a `time.Time` (`2026-11-28 20:54:01.647364396
/// +0000 UTC`) instead of their JSON form, as podman's `inspect --format` shows them.
pub fn go_times(value: Json) -> Json {
    match value {
        Json::Object(map) => Json::Object(
            map.into_iter()
                .map(|(key, value)| {
                    let value = match (&value, TIME_FIELDS.contains(&key.as_str())) {
                        (Json::String(text), true) => {
                            match chrono::DateTime::parse_from_rfc3339(text) {
                                Ok(time) => Json::String(go_time(time)),
                                Err(_) => value,
                            }
                        }
                        _ => go_times(value),
                    };
                    (key, value)
                })
                .collect(),
        ),
        Json::Array(items) => Json::Array(items.into_iter().map(go_times).collect()),
        other => other,
    }
}

/// Go's `time.Time.String()` for a UTC time: nanoseconds without trailing zeros.
pub fn go_time(time: chrono::DateTime<chrono::FixedOffset>) -> String {
    let utc = time.with_timezone(&chrono::Utc);
    let mut fraction = format!("{:09}", chrono::Timelike::nanosecond(&utc));
    while fraction.ends_with('0') {
        fraction.pop();
    }
    let fraction = if fraction.is_empty() {
        String::new()
    } else {
        format!(".{fraction}")
    };
    format!("{}{fraction} +0000 UTC", utc.format("%Y-%m-%d %H:%M:%S"))
}

/// Column names as the field names upper-cased (the default for most commands).
pub fn upper_header(field: &str) -> String {
    field.to_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_characters_between_actions_and_string_escapes_inside() {
        assert_eq!(unescape(r"{{.A}}\t{{.B}}\n"), "{{.A}}\t{{.B}}\n");
        assert_eq!(unescape(r#"{{"\n"}}\n"#), "{{\"\\n\"}}\n");
        assert_eq!(
            unescape(r#"{{join .N "}}\n"}}\t"#),
            "{{join .N \"}}\\n\"}}\t"
        );
        assert_eq!(
            unescape(r"{{'\n'}} {{`\n`}}\n{{"),
            "{{'\\n'}} {{`\\n`}}\n{{"
        );
        let image = serde_json::json!({"Names": ["a", "b"], "Id": "x"});
        let out = Format::parse(r#"{{.Id}}\n{{join .Names "\n"}}{{"\n"}}"#, &upper_header)
            .unwrap()
            .render_all(&[image])
            .unwrap();
        assert_eq!(out, "x\na\nb\n");
    }

    #[test]
    fn a_tables_spaces_inside_actions_are_the_actions() {
        let out = Format::parse(r#"table {{.Id}} {{join .Names ", "}}"#, &upper_header)
            .unwrap()
            .render_all(&[serde_json::json!({"Names": ["a", "b"], "Id": "x"})])
            .unwrap();
        assert_eq!(out, "ID          NAMES\nx           a, b\n");
    }
    use serde_json::json;

    fn render(format: &str, item: Json) -> String {
        Format::parse(format, &upper_header)
            .unwrap()
            .render_all(&[item])
            .unwrap()
    }

    #[test]
    fn fields_json_range_and_funcs() {
        let item =
            json!({"State": {"Status": "running", "Pid": 42}, "Names": ["a", "b"], "Id": "abc"});
        assert_eq!(render("{{.State.Status}}", item.clone()), "running\n");
        assert_eq!(render("{{.State.Pid}}", item.clone()), "42\n");
        assert_eq!(
            render("{{json .State}}", item.clone()),
            "{\"Pid\":42,\"Status\":\"running\"}\n"
        );
        assert_eq!(
            render("{{range .Names}}{{.}},{{end}}", item.clone()),
            "a,b,\n"
        );
        assert_eq!(
            render("{{upper .Id}} {{join .Names \"-\"}}", item.clone()),
            "ABC a-b\n"
        );
        assert_eq!(render("{{if .State.Pid}}yes{{end}}", item.clone()), "yes\n");
        assert_eq!(render("{{.Names}}", item.clone()), "[a b]\n");
        assert_eq!(
            render("{{.State}}", item.clone()),
            "map[Pid:42 Status:running]\n"
        );
        assert_eq!(render("{{- .Id -}}", item), "abc\n");
    }

    /// A key a map lacks is `<no value>` (and `index` of it empty), as in Go's templates;
    /// a struct's missing field is still an error.
    #[test]
    fn maps_answer_missing_keys_and_structs_refuse_missing_fields() {
        let item = json!({
            "Config": {"Labels": {"app": "web", "Labels": "data"}, "Annotations": {}},
            "Name": "x"
        });
        assert_eq!(
            render(
                "{{.Config.Labels.app}}|{{.Config.Labels.nokey}}|{{.Config.Labels.Labels}}",
                item.clone()
            ),
            "web|<no value>|data\n"
        );
        assert_eq!(
            render(
                "{{index .Config.Labels \"nokey\"}}|{{index .Config.Labels \"app\"}}",
                item.clone()
            ),
            "|web\n"
        );
        assert_eq!(
            render(
                "{{.Config.Annotations.a}}|{{.Config.Annotations}}",
                item.clone()
            ),
            "<no value>|map[]\n"
        );
        assert_eq!(
            render(
                "{{len .Config.Labels}} {{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}",
                item.clone()
            ),
            "2 Labels=data;app=web;\n"
        );
        assert_eq!(
            render("{{json .Config.Labels}}", item.clone()),
            "{\"Labels\":\"data\",\"app\":\"web\"}\n"
        );
        let typo = Format::parse("{{.Config.Lables}}", &upper_header)
            .unwrap()
            .render_all(std::slice::from_ref(&item));
        assert!(typo.is_err(), "{typo:?}");
        assert!(Format::parse("{{.Nmae}}", &upper_header)
            .unwrap()
            .render_all(&[item])
            .is_err());
    }

    /// What a function gives prints as Go prints it, lists and maps included; actions
    /// that print nothing (control words, declarations, comments) stay as they are.
    #[test]
    fn function_results_print_as_go_prints_them() {
        let item = json!({"Name": "a-b-c", "List": ["x", "y", "z"], "Labels": {"k": "v"}});
        assert_eq!(
            render(
                "{{split .Name \"-\"}}|{{slice .List 1}}|{{.List | len}}|{{index .List 0}}",
                item.clone()
            ),
            "[a b c]|[y z]|3|x\n"
        );
        assert_eq!(
            render(
                "{{/* note */}}{{$l := split .Name \"-\"}}{{$l}}{{$m := .List}}{{- if $m }} {{$m}}{{end}}{{with .Labels}} {{.}}{{end}}",
                item
            ),
            "[a b c] [x y z] map[k:v]\n"
        );
        // A set's values are empty structs: `{}`, as Go prints them.
        assert_eq!(
            render(
                "{{.Config.ExposedPorts}} {{.Config.Volumes}} {{.Config.Labels}}",
                json!({"Config": {"ExposedPorts": {"80/tcp": {}, "53/udp": {}}, "Volumes": {}, "Labels": {}}})
            ),
            "map[53/udp:{} 80/tcp:{}] map[] map[]\n"
        );
        assert!(!prints_its_pipeline("$x := .Name"));
        assert!(!prints_its_pipeline("$x = .Name"));
        assert!(!prints_its_pipeline("else if .Name"));
        assert!(prints_its_pipeline("$x.Name | upper"));
        assert!(prints_its_pipeline("printf \"%s\" .Name"));
    }

    /// Go's `slice`, `html` and `urlquery`.
    #[test]
    fn go_functions_slice_html_and_urlquery() {
        assert_eq!(
            render(
                "{{slice .Name 0 1}}|{{slice .Name 1}}|{{join (slice .List 1 2) \",\"}}|{{len (slice .List)}}",
                json!({"Name": "xyz", "List": ["a", "b", "c"]})
            ),
            "x|yz|b|3\n"
        );
        assert_eq!(
            render(
                "{{html .Name}}|{{urlquery .Name}}",
                json!({"Name": "<a href=\"x\">'&' é/?</a>"})
            ),
            "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39; é/?&lt;/a&gt;|%3Ca+href%3D%22x%22%3E%27%26%27+%C3%A9%2F%3F%3C%2Fa%3E\n"
        );
        for bad in [
            "{{slice .Name 2 1}}",
            "{{slice .Name 0 9}}",
            "{{slice .Name 0 1 2}}",
        ] {
            let out = Format::parse(bad, &upper_header)
                .unwrap()
                .render_all(&[json!({"Name": "xyz"})]);
            assert!(out.is_err(), "{bad}: {out:?}");
        }
    }

    #[test]
    fn times_print_as_go_prints_them() {
        let item = json!({"State": {"StartedAt": "2026-11-28T20:54:01.647364390Z", "Status": "running"},
            "Created": "0001-01-01T00:00:00Z", "Name": "2026-11-28T20:54:01Z"});
        let shown = go_times(item);
        assert_eq!(
            shown["State"]["StartedAt"],
            "2026-11-28 20:54:01.64736439 +0000 UTC"
        );
        assert_eq!(shown["Created"], "0001-01-01 00:00:00 +0000 UTC");
        // Only time fields change.
        assert_eq!(shown["Name"], "2026-11-28T20:54:01Z");
        assert_eq!(shown["State"]["Status"], "running");
    }

    #[test]
    fn podmans_added_functions() {
        let item =
            json!({"Name": "web server", "Id": "0123456789abcdef", "Ports": "80/tcp,443/tcp"});
        assert_eq!(render("{{title .Name}}", item.clone()), "Web Server\n");
        assert_eq!(
            render("{{truncate .Id 12}}", item.clone()),
            "0123456789ab\n"
        );
        assert_eq!(
            render("{{truncate .Id 100}}", item.clone()),
            "0123456789abcdef\n"
        );
        assert_eq!(
            render("{{range split .Ports \",\"}}[{{.}}]{{end}}", item.clone()),
            "[80/tcp][443/tcp]\n"
        );
        assert_eq!(
            render("{{pad .Name 2 1}}|", item.clone()),
            "  web server |\n"
        );
        assert_eq!(render("{{len (split .Ports \",\")}}", item.clone()), "2\n");
        assert!(Format::parse("{{truncate .Id}}", &upper_header)
            .unwrap()
            .render_all(&[item])
            .is_err());
    }

    #[test]
    fn tables_have_headers_and_aligned_columns() {
        let items = vec![
            json!({"ID": "1", "Name": "long-name"}),
            json!({"ID": "22", "Name": "x"}),
        ];
        let out = Format::parse("table {{.ID}}\\t{{.Name}}", &upper_header)
            .unwrap()
            .render_all(&items)
            .unwrap();
        // Columns are 12 wide at least, as podman's.
        assert_eq!(
            out,
            "ID          NAME\n1           long-name\n22          x\n"
        );
        let items = vec![json!({"ID": "0123456789abcdef", "Name": "n", "Tag": "latest"})];
        let out = Format::parse("table {{.ID}}\\t{{.Tag}}\\t{{.Name}}", &upper_header)
            .unwrap()
            .render_all(&items)
            .unwrap();
        assert_eq!(
            out,
            "ID                TAG         NAME\n0123456789abcdef  latest      n\n"
        );
    }

    #[test]
    fn spaces_in_a_table_separate_columns() {
        let items = vec![json!({"ID": "1", "Name": "n", "Labels": {"a": "b"}})];
        let render = |format: &str| {
            Format::parse(format, &upper_header)
                .unwrap()
                .render_all(&items)
                .unwrap()
        };
        assert_eq!(
            render("table {{.ID}} {{.Name}}"),
            "ID          NAME\n1           n\n"
        );
        // Two spaces: an empty column between, as podman's.
        assert_eq!(
            render("table {{.ID}}  {{.Name}}"),
            "ID                      NAME\n1                       n\n"
        );
        // Actions still parse with their spaces made tabs.
        let out = render("table {{ .ID }} {{index .Labels \"a\"}} {{if eq .Name \"n\"}}yes{{end}}");
        assert_eq!(out.lines().nth(1), Some("1           b           yes"));
        // Without `table`, spaces are text.
        assert_eq!(render("{{.ID}} {{.Name}}"), "1 n\n");
    }

    #[test]
    fn ranges_walk_maps_in_key_order() {
        let labels: serde_json::Map<String, Json> = (0..20)
            .map(|i| (format!("k{i:02}"), json!(format!("v{i}"))))
            .collect();
        let item = json!({"Labels": labels, "List": ["x", "y"], "None": null});
        let render = |format: &str| {
            Format::parse(format, &upper_header)
                .unwrap()
                .render_all(std::slice::from_ref(&item))
                .unwrap()
        };
        let expected: String = (0..20).map(|i| format!("k{i:02}=v{i};")).collect();
        assert_eq!(
            render("{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}"),
            format!("{expected}\n")
        );
        assert_eq!(
            render("{{- range $key, $value := .Labels -}} {{$key}}={{$value}}; {{- end}}"),
            format!("{expected}\n")
        );
        let values: String = (0..20).map(|i| format!("v{i},")).collect();
        assert_eq!(
            render("{{range .Labels}}{{.}},{{end}}"),
            format!("{values}\n")
        );
        assert_eq!(
            render("{{range $v := .Labels}}{{$v}},{{end}}"),
            format!("{values}\n")
        );
        // Lists keep their order and their indexes; nil ranges over nothing.
        assert_eq!(
            render("{{range $i, $e := .List}}{{$i}}:{{$e}} {{end}}"),
            "0:x 1:y \n"
        );
        assert_eq!(render("{{range .List}}{{.}}{{end}}"), "xy\n");
        assert_eq!(render("{{range .None}}x{{else}}empty{{end}}"), "empty\n");
        // Nested ranges each keep their own variables.
        let nested = json!({"M": {"b": {"y": 2, "x": 1}, "a": {"z": 3}}});
        let out = Format::parse(
            "{{range $k, $v := .M}}{{$k}}({{range $k2, $v2 := $v}}{{$k2}}{{$v2}}{{end}}){{$k}} {{end}}",
            &upper_header,
        )
        .unwrap()
        .render_all(&[nested])
        .unwrap();
        assert_eq!(out, "a(z3)a b(x1y2)b \n");
    }

    #[test]
    fn printf_aligns_as_go() {
        let item = json!({"Name": "c1", "Pid": 42, "Cmd": ["sleep", "1"], "On": true,
                          "Labels": {"b": "2", "a": "1"}});
        let render = |format: &str| {
            Format::parse(format, &upper_header)
                .unwrap()
                .render_all(std::slice::from_ref(&item))
                .unwrap()
        };
        assert_eq!(render(r#"{{printf "%5s|" .Name}}"#), "   c1|\n");
        assert_eq!(render(r#"{{printf "%-5s|" .Name}}"#), "c1   |\n");
        assert_eq!(
            render(r#"{{printf "%5d|%-4d|" .Pid .Pid}}"#),
            "   42|42  |\n"
        );
        assert_eq!(
            render(r#"{{printf "%.1s %v %%" .Name .Cmd}}"#),
            "c [sleep 1] %\n"
        );
        assert_eq!(render(r#"{{printf "%v" .Labels}}"#), "map[a:1 b:2]\n");
        assert_eq!(render(r#"{{printf "%6v|%s" .On .Name}}"#), "  true|c1\n");
        assert_eq!(render(r#"{{printf "%s is 100%%" .Name}}"#), "c1 is 100%\n");
        assert_eq!(render(r#"{{.Name | printf "%4s"}}"#), "  c1\n");
        assert_eq!(
            render(r#"{{printf "%05d %+d %x" .Pid .Pid .Pid}}"#),
            "00042 +42 2a\n"
        );
        assert_eq!(
            render(r#"{{printf "%q %6q|" .Name .Name}}"#),
            "\"c1\"   \"c1\"|\n"
        );
        assert_eq!(render(r#"{{printf "%s %s" .Name}}"#), "c1 %!s(MISSING)\n");
    }

    #[test]
    fn bad_templates_are_errors() {
        assert!(Format::parse("{{.State", &upper_header).is_err());
        // A join of a string says so, not that it was given the wrong count.
        let err = Format::parse(r#"{{join .Id ","}}"#, &upper_header)
            .unwrap()
            .render_all(&[json!({"Id": "abc"})])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("join: the first argument must be a list, not a string"),
            "{err}"
        );
    }
}
