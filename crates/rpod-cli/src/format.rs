//! `--format`: Go templates as podman users type them (`{{.State.Status}}`, `{{json .}}`,
//! `{{range}}`, `table ...`), rendered with gtmpl over the same JSON that `--format json`
//! prints.

use anyhow::{anyhow, Result};
use gtmpl::{Context, Template};
use gtmpl_value::{FuncError, Number, Value};
use serde_json::Value as Json;

/// JSON → template value.
pub fn to_value(json: &Json) -> Value {
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
        Json::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), to_value(v))).collect())
        }
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

/// Wrap actions that print a bare field (`{{.Names}}`, `{{.}}`, `{{$v}}`) in `goprint`, so
/// that lists and maps print as Go prints them.
fn wrap_bare_fields(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        let inner = &rest[start + 2..start + len];
        let (left, core, right) = {
            let trimmed_left = inner.strip_prefix('-').unwrap_or(inner);
            let trimmed = trimmed_left.strip_suffix('-').unwrap_or(trimmed_left);
            (
                if trimmed_left.len() != inner.len() {
                    "-"
                } else {
                    ""
                },
                trimmed.trim(),
                if trimmed.len() != trimmed_left.len() {
                    "-"
                } else {
                    ""
                },
            )
        };
        let bare = (core.starts_with('.') || core.starts_with('$'))
            && core
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '.' | '$' | '_'));
        if bare {
            out.push_str(&format!("{{{{{left} goprint {core} {right}}}}}"));
        } else {
            out.push_str(&rest[start..start + len + 2]);
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

fn upper_func(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(string_arg("upper", args)?.to_uppercase()))
}

fn lower_func(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(string_arg("lower", args)?.to_lowercase()))
}

fn join_func(args: &[Value]) -> Result<Value, FuncError> {
    let [Value::Array(items), separator] = args else {
        return Err(FuncError::ExactlyXArgs("join".into(), 2));
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

/// Turn typed escapes (`\t`, `\n`) into the characters, as podman does.
fn unescape(text: &str) -> String {
    text.replace("\\t", "\t").replace("\\n", "\n")
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
        let (table, body) = match text.strip_prefix("table") {
            Some(rest) => (true, rest.trim_start().to_string()),
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
        ]);
        template
            .parse(wrap_bare_fields(&body))
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

/// Align tab-separated columns with at least two spaces between them.
pub fn align_columns(lines: &[String]) -> String {
    let rows: Vec<Vec<&str>> = lines.iter().map(|l| l.split('\t').collect()).collect();
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                line.push_str(cell);
                if i + 1 < row.len() {
                    let pad = widths[i] - cell.chars().count() + 2;
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
fn go_time(time: chrono::DateTime<chrono::FixedOffset>) -> String {
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
        assert_eq!(out, "ID  NAME\n1   long-name\n22  x\n");
    }

    #[test]
    fn bad_templates_are_errors() {
        assert!(Format::parse("{{.State", &upper_header).is_err());
    }
}
