//! Containerfiles (Dockerfiles) for `build`: the file split into instructions, the
//! variables of `ARG` and `ENV` put into the instructions that take them, and the words and
//! `KEY=VALUE` pairs of an instruction read as Docker reads them. Written by hand: no
//! maintained Rust crate parses Dockerfiles, and the grammar is small. What the builder
//! does with the instructions is `engine/build.rs`.

use std::collections::BTreeMap;

use crate::{EngineError, Result};

/// The largest Containerfile `build` reads.
pub const MAX_CONTAINERFILE: u64 = 1 << 20;

/// The most text the variables put into one instruction may make: `ENV A=$A$A` a few
/// dozen times over (or a heredoc full of `$A`) would otherwise grow without bound.
const MAX_EXPANDED: usize = 4 << 20;

/// Count `value`, put in by a variable, against [`MAX_EXPANDED`].
fn count_expansion(total: &mut usize, value: &str, line: usize) -> Result<()> {
    *total += value.len();
    if *total > MAX_EXPANDED {
        return Err(bad(
            line,
            format!(
                "its variables expand to more than {} MiB",
                MAX_EXPANDED >> 20
            ),
        ));
    }
    Ok(())
}

/// One instruction: its keyword in capitals, its `--name=value` flags, its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// The line it starts on, for messages.
    pub line: usize,
    pub keyword: String,
    pub flags: Vec<(String, String)>,
    pub args: Args,
    /// The heredocs a COPY or ADD names among its sources (`COPY <<EOF /etc/motd`).
    pub heredocs: Vec<Heredoc>,
}

/// A heredoc of a COPY or ADD: the file it makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// `EOF` of `<<EOF`: the source's word, and the file's name in a directory.
    pub delimiter: String,
    /// Its lines, each with its newline.
    pub content: String,
    /// Whether the build's variables are put in (an unquoted delimiter, as BuildKit's).
    pub expand: bool,
}

/// An instruction's arguments: a JSON array (exec form) or the text after the keyword.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Args {
    Json(Vec<String>),
    Text(String),
}

impl Args {
    pub fn text(&self) -> String {
        match self {
            Args::Text(text) => text.clone(),
            Args::Json(words) => serde_json::to_string(words).unwrap_or_default(),
        }
    }
}

fn bad(line: usize, what: impl std::fmt::Display) -> EngineError {
    EngineError::InvalidArg(format!("Containerfile line {line}: {what}"))
}

/// The instructions that take `--flags` before their arguments.
const WITH_FLAGS: &[&str] = &["FROM", "COPY", "ADD", "RUN", "HEALTHCHECK"];

/// Split a Containerfile into instructions: comments and blank lines dropped, lines ending
/// in `\` joined with the next (comment lines inside such a line skipped, as Docker does).
pub fn parse(text: &str) -> Result<Vec<Instruction>> {
    let mut instructions = Vec::new();
    let mut directives_allowed = true;
    let mut pending: Option<(usize, String)> = None;
    let lines: Vec<&str> = text.lines().collect();
    let mut index = 0;
    while index < lines.len() {
        let raw = lines[index];
        index += 1;
        let number = index;
        let trimmed = raw.trim_start();
        if let Some(comment) = trimmed.strip_prefix('#') {
            if directives_allowed && pending.is_none() {
                if let Some((key, value)) = comment.split_once('=') {
                    let key = key.trim().to_ascii_lowercase();
                    let value = value.trim();
                    if key == "escape" && value != "\\" {
                        return Err(EngineError::NotSupported(format!(
                            "Containerfile line {number}: the escape character {value:?} (rpod's build takes `\\`)"
                        )));
                    }
                    if key == "escape" || key == "syntax" || key == "check" {
                        continue;
                    }
                }
            }
            directives_allowed = false;
            continue;
        }
        if trimmed.is_empty() {
            if pending.is_none() {
                directives_allowed = false;
            }
            continue;
        }
        directives_allowed = false;
        let line = raw.trim_end();
        let (body, continues) = match line.strip_suffix('\\') {
            Some(body) => (body, true),
            None => (line, false),
        };
        let (start, mut joined) = pending.take().unwrap_or((number, String::new()));
        joined.push_str(body);
        if continues {
            pending = Some((start, joined));
        } else {
            let mut step = instruction(start, &joined)?;
            index += take_heredocs(&mut step, &lines[index..])?;
            instructions.push(step);
        }
    }
    if let Some((start, joined)) = pending {
        instructions.push(instruction(start, &joined)?);
    }
    Ok(instructions)
}

/// A heredoc's marker in an instruction (`<<EOF`, `<<-EOF`, `<<"EOF"`): its delimiter and
/// whether leading tabs are taken off its lines.
pub fn heredoc_marker(word: &str) -> Option<(String, bool)> {
    let rest = word.strip_prefix("<<")?;
    let (rest, strip_tabs) = match rest.strip_prefix('-') {
        Some(rest) => (rest, true),
        None => (rest, false),
    };
    let delimiter = rest.trim_matches(|c| c == '"' || c == '\'');
    let mut chars = delimiter.chars();
    let starts_well = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    (starts_well && chars.all(is_name)).then(|| (delimiter.to_string(), strip_tabs))
}

/// BuildKit's heredocs (`RUN <<EOF` ... `EOF`): a RUN whose words are one marker runs the
/// lines up to the delimiter as its shell script; a RUN with a command and markers gets
/// the lines, delimiters included, after its text, for its shell to read as the heredocs
/// they are (`RUN cat <<EOF > /f`); a COPY or ADD gets them as files to copy
/// (`Instruction::heredocs`). `rest` is the Containerfile after the instruction; returns
/// how many of its lines the heredocs took.
fn take_heredocs(step: &mut Instruction, rest: &[&str]) -> Result<usize> {
    let Args::Text(text) = &step.args else {
        return Ok(0);
    };
    if !matches!(step.keyword.as_str(), "RUN" | "COPY" | "ADD") {
        return Ok(0);
    }
    // A text the word splitter refuses (an unbalanced quote) is the shell's to judge.
    let words = words(text, step.line).unwrap_or_default();
    let markers: Vec<(String, bool)> = words.iter().filter_map(|w| heredoc_marker(w)).collect();
    if markers.is_empty() {
        return Ok(0);
    }
    if step.keyword != "RUN" && step.flags.iter().any(|(name, _)| name == "from") {
        return Err(EngineError::NotSupported(format!(
            "Containerfile line {}: a heredoc in {} --from",
            step.line, step.keyword
        )));
    }
    if step.keyword == "RUN" && markers.len() > 1 && markers.len() == words.len() {
        return Err(EngineError::NotSupported(format!(
            "Containerfile line {}: several heredoc scripts in one RUN (one, or a command \
             reading them)",
            step.line
        )));
    }
    let mut taken = 0;
    let mut consumed = Vec::new();
    let mut bodies = Vec::new();
    for (delimiter, strip_tabs) in &markers {
        let mut body = Vec::new();
        loop {
            let Some(raw) = rest.get(taken) else {
                return Err(bad(
                    step.line,
                    format!("the heredoc <<{delimiter} has no line {delimiter:?} to end it"),
                ));
            };
            taken += 1;
            // A file with CRLF line ends has them in its heredocs too.
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            consumed.push(raw);
            let line = if *strip_tabs {
                raw.trim_start_matches('\t')
            } else {
                raw
            };
            if line == delimiter {
                break;
            }
            body.push(line);
        }
        bodies.push(body);
    }
    if step.keyword != "RUN" {
        let quoted = |delimiter: &str| {
            ["<<", "<<-"].iter().any(|start| {
                ['"', '\'']
                    .iter()
                    .any(|q| text.contains(&format!("{start}{q}{delimiter}{q}")))
            })
        };
        step.heredocs = markers
            .iter()
            .zip(&bodies)
            .map(|((delimiter, _), body)| Heredoc {
                delimiter: delimiter.clone(),
                content: body.iter().map(|line| format!("{line}\n")).collect(),
                expand: !quoted(delimiter),
            })
            .collect();
        return Ok(taken);
    }
    let script_only = words.len() == 1;
    let new_text = if script_only {
        let script = bodies.concat().join("\n");
        if script.starts_with("#!") {
            return Err(EngineError::NotSupported(format!(
                "Containerfile line {}: a heredoc script with its own interpreter (#!): use \
                 RUN INTERPRETER <<{}",
                step.line, markers[0].0
            )));
        }
        script
    } else {
        format!("{text}\n{}\n", consumed.join("\n"))
    };
    step.args = Args::Text(new_text);
    Ok(taken)
}

fn instruction(line: usize, text: &str) -> Result<Instruction> {
    let text = text.trim();
    let (keyword, mut rest) = match text.split_once(char::is_whitespace) {
        Some((keyword, rest)) => (keyword.to_ascii_uppercase(), rest.trim_start()),
        None => (text.to_ascii_uppercase(), ""),
    };
    let mut flags = Vec::new();
    if WITH_FLAGS.contains(&keyword.as_str()) {
        while let Some(flag) = rest.strip_prefix("--") {
            let (word, after) = match flag.split_once(char::is_whitespace) {
                Some((word, after)) => (word, after.trim_start()),
                None => (flag, ""),
            };
            let (name, value) = word.split_once('=').unwrap_or((word, ""));
            flags.push((name.to_ascii_lowercase(), value.to_string()));
            rest = after;
        }
    }
    let args = if rest.starts_with('[') {
        match serde_json::from_str::<Vec<String>>(rest) {
            Ok(words) => Args::Json(words),
            // Not a JSON array of strings: Docker takes it as text (shell form).
            Err(_) => Args::Text(rest.to_string()),
        }
    } else {
        Args::Text(rest.to_string())
    };
    Ok(Instruction {
        line,
        keyword,
        flags,
        args,
        heredocs: Vec::new(),
    })
}

fn is_name(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The variable that `chars[i]` (a `$`) begins: its value and the index after it; `None`
/// when no name follows (the `$` is itself).
fn variable_at(
    chars: &[char],
    i: usize,
    vars: &BTreeMap<String, String>,
    line: usize,
    text: &str,
) -> Result<Option<(String, usize)>> {
    match chars.get(i + 1) {
        Some('{') => {
            // The matching brace: a default may hold `${...}` of its own.
            let mut depth = 0usize;
            let close = chars[i + 2..]
                .iter()
                .position(|c| match c {
                    '{' => {
                        depth += 1;
                        false
                    }
                    '}' if depth == 0 => true,
                    '}' => {
                        depth -= 1;
                        false
                    }
                    _ => false,
                })
                .ok_or_else(|| bad(line, format!("no closing brace in {text:?}")))?;
            let inner: String = chars[i + 2..i + 2 + close].iter().collect();
            let (name, modifier) = match inner.find(":-").or_else(|| inner.find(":+")) {
                Some(at) => (&inner[..at], Some((&inner[at..at + 2], &inner[at + 2..]))),
                None => (inner.as_str(), None),
            };
            if name.is_empty() || !name.chars().all(is_name) {
                return Err(bad(line, format!("bad substitution ${{{inner}}}")));
            }
            let value = vars.get(name).map(String::as_str).unwrap_or("");
            let value = match modifier {
                None => value.to_string(),
                Some((":-", default)) if value.is_empty() => expand(default, vars, line)?,
                Some((":-", _)) => value.to_string(),
                Some((_, other)) if !value.is_empty() => expand(other, vars, line)?,
                Some(_) => String::new(),
            };
            Ok(Some((value, i + close + 3)))
        }
        Some(n) if is_name(*n) => {
            let end = chars[i + 1..]
                .iter()
                .position(|c| !is_name(*c))
                .map_or(chars.len(), |p| i + 1 + p);
            let name: String = chars[i + 1..end].iter().collect();
            let value = vars.get(&name).cloned().unwrap_or_default();
            Ok(Some((value, end)))
        }
        _ => Ok(None),
    }
}

/// Put the values of `vars` into `text`: `$NAME`, `${NAME}`, `${NAME:-default}` (the
/// default when unset or empty), `${NAME:+other}` (other when set and not empty); `\$` is
/// a dollar sign. Unknown names are empty, as in Docker.
pub fn expand(text: &str, vars: &BTreeMap<String, String>, line: usize) -> Result<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut expanded = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && chars.get(i + 1) == Some(&'$') {
            out.push('$');
            i += 2;
            continue;
        }
        if c == '$' {
            if let Some((value, next)) = variable_at(&chars, i, vars, line, text)? {
                count_expansion(&mut expanded, &value, line)?;
                out.push_str(&value);
                i = next;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    Ok(out)
}

/// Words separated by blanks, with quotes (`"a b"`, `'a b'`) and backslash escapes
/// removed, as Docker splits COPY's paths and ENV's pairs.
pub fn words(text: &str, line: usize) -> Result<Vec<String>> {
    split_words(text, None, line)
}

/// `words`, each with the values of `vars` put in as Docker does for ENV and LABEL: a word
/// at a time (a value with blanks stays in its word), not within single quotes, and not
/// after a backslash.
pub fn expanded_words(
    text: &str,
    vars: &BTreeMap<String, String>,
    line: usize,
) -> Result<Vec<String>> {
    split_words(text, Some(vars), line)
}

fn split_words(
    text: &str,
    vars: Option<&BTreeMap<String, String>>,
    line: usize,
) -> Result<Vec<String>> {
    let chars: Vec<char> = text.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut expanded = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c == '$' && quote != Some('\'') {
            if let Some(vars) = vars {
                if let Some((value, next)) = variable_at(&chars, i - 1, vars, line, text)? {
                    count_expansion(&mut expanded, &value, line)?;
                    word.push_str(&value);
                    in_word = true;
                    i = next;
                    continue;
                }
            }
        }
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => {
                word.push(chars.get(i).copied().unwrap_or('\\'));
                i += 1;
            }
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                word.push(chars.get(i).copied().unwrap_or('\\'));
                i += 1;
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(bad(line, format!("unterminated quote in {text:?}")));
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// ENV's and LABEL's pairs, with `vars` put in: `KEY=VALUE ...` (quotes allowed), or the
/// old `KEY VALUE` form whose value is the rest of the line.
pub fn pairs(
    text: &str,
    vars: &BTreeMap<String, String>,
    line: usize,
) -> Result<Vec<(String, String)>> {
    let text = text.trim();
    let first = text.split_whitespace().next().unwrap_or("");
    if !first.contains('=') {
        let (key, value) = text
            .split_once(char::is_whitespace)
            .ok_or_else(|| bad(line, format!("{text:?} needs KEY=VALUE or KEY VALUE")))?;
        let key = words(key, line)?.concat();
        return Ok(vec![(key, expand(value.trim(), vars, line)?)]);
    }
    expanded_words(text, vars, line)?
        .into_iter()
        .map(|word| match word.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
            _ => Err(bad(line, format!("{word:?} is not KEY=VALUE"))),
        })
        .collect()
}

/// A build context's `.containerignore` (or `.dockerignore`): which paths COPY and ADD
/// leave out. Each line is a pattern of the context's relative paths (`*` and `?` within a
/// name, `**` for any number of directories); a pattern matching a directory leaves out
/// what is below it; `!` takes a path back in; the last pattern that matches decides.
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    /// Each pattern's names, and whether it leaves out (not an exception).
    rules: Vec<(Vec<String>, bool)>,
}

impl IgnoreRules {
    pub fn parse(text: &str) -> Result<IgnoreRules> {
        let mut rules = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (pattern, excludes) = match line.strip_prefix('!') {
                Some(rest) => (rest.trim(), false),
                None => (line, true),
            };
            if pattern.contains('[') {
                return Err(EngineError::NotSupported(format!(
                    "ignore file line {}: `[` in a pattern",
                    index + 1
                )));
            }
            let names: Vec<String> = pattern
                .split('/')
                .filter(|name| !name.is_empty() && *name != ".")
                .map(str::to_string)
                .collect();
            if names.iter().any(|name| name == "..") {
                return Err(EngineError::InvalidArg(format!(
                    "ignore file line {}: {pattern:?} leaves the context",
                    index + 1
                )));
            }
            if !names.is_empty() {
                rules.push((names, excludes));
            }
        }
        Ok(IgnoreRules { rules })
    }

    /// Whether some pattern takes paths back in (so a left-out directory is still looked in).
    pub fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|(_, excludes)| !excludes)
    }

    /// Whether `path` (relative to the context) is left out.
    pub fn excludes(&self, path: &std::path::Path) -> bool {
        let names: Vec<String> = path
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let mut excluded = false;
        for (pattern, excludes) in &self.rules {
            // The path itself or a directory above it.
            if (1..=names.len()).any(|n| names_match(pattern, &names[..n])) {
                excluded = *excludes;
            }
        }
        excluded
    }
}

/// A pattern's names against a path's: `**` takes any number of names.
fn names_match(pattern: &[String], names: &[String]) -> bool {
    match pattern.split_first() {
        None => names.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=names.len()).any(|skip| names_match(rest, &names[skip..]))
        }
        Some((first, rest)) => match names.split_first() {
            Some((name, names)) => {
                crate::security::segment_matches(first.as_bytes(), name.as_bytes())
                    && names_match(rest, names)
            }
            None => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Variables cannot make an instruction grow without bound (`ENV A=$A$A` repeated).
    #[test]
    fn expansions_are_bounded() {
        let vars = BTreeMap::from([("A".to_string(), "x".repeat(1 << 20))]);
        assert_eq!(expand("$A$A", &vars, 3).unwrap().len(), 2 << 20);
        for err in [
            expand("$A$A$A$A$A", &vars, 3).unwrap_err(),
            expanded_words("a=$A b=$A c=$A d=$A e=$A", &vars, 3).unwrap_err(),
        ] {
            assert!(
                err.to_string().contains("expand to more than 4 MiB"),
                "{err}"
            );
        }
    }

    #[test]
    fn heredocs_of_run_are_scripts_or_the_shells_to_read() {
        let text = "FROM x\nRUN <<EOF\necho one\n  echo two\nEOF\nRUN cat <<-'END' > /f && \\\n    cat /f\n\thello $HOME\n\tEND\nRUN --network=none <<EOF\nset -e\nEOF\nENV A=1\n";
        let steps = parse(text).unwrap();
        let shown: Vec<(usize, &str, String)> = steps
            .iter()
            .map(|s| (s.line, s.keyword.as_str(), s.args.text()))
            .collect();
        assert_eq!(
            shown,
            [
                (1, "FROM", "x".to_string()),
                (2, "RUN", "echo one\n  echo two".to_string()),
                (
                    6,
                    "RUN",
                    "cat <<-'END' > /f &&     cat /f\n\thello $HOME\n\tEND\n".to_string()
                ),
                (10, "RUN", "set -e".to_string()),
                (13, "ENV", "A=1".to_string()),
            ]
        );
        assert_eq!(
            steps[3].flags,
            [("network".to_string(), "none".to_string())]
        );
        // Not heredocs: a shift, a here-string, `<<` inside a word.
        for text in ["RUN echo $((1<<2))", "RUN cat <<< word", "RUN echo a<<b"] {
            let steps = parse(&format!("{text}\nENV A=1\n")).unwrap();
            assert_eq!(steps.len(), 2, "{text}");
        }
        let crlf = parse("RUN <<EOF\r\necho crlf\r\nEOF\r\nENV A=1\r\n").unwrap();
        assert_eq!(crlf[0].args.text(), "echo crlf");
        let crlf = parse("RUN cat <<EOF\r\nline\r\nEOF\r\n").unwrap();
        assert_eq!(crlf[0].args.text(), "cat <<EOF\nline\nEOF\n");
        let err = parse("FROM x\nRUN <<EOF\necho never ends\n").unwrap_err();
        assert!(err.to_string().contains("<<EOF has no line"), "{err}");
        let copy = parse("COPY <<EOF <<'RAW' /d/\nhi $X\nEOF\n\tkeep $X\nRAW\nENV A=1\n").unwrap();
        assert_eq!(copy.len(), 2);
        assert_eq!(
            copy[0].heredocs,
            [
                Heredoc {
                    delimiter: "EOF".into(),
                    content: "hi $X\n".into(),
                    expand: true
                },
                Heredoc {
                    delimiter: "RAW".into(),
                    content: "\tkeep $X\n".into(),
                    expand: false
                },
            ]
        );
        for refused in [
            "COPY --from=x <<EOF /f\nhi\nEOF\n",
            "RUN <<A <<B\na\nA\nb\nB\n",
            "RUN <<EOF\n#!/usr/bin/env python3\nprint(1)\nEOF\n",
        ] {
            assert!(
                matches!(parse(refused), Err(EngineError::NotSupported(_))),
                "{refused}"
            );
        }
    }

    #[test]
    fn ignore_rules_leave_out_and_take_back_as_docker_does() {
        let rules = IgnoreRules::parse(
            "# comment\n\n*.log\nbuild/\n!build/keep.txt\n**/secret\n/docs/*.md\n!docs/README.md\n",
        )
        .unwrap();
        let out = |path: &str| rules.excludes(std::path::Path::new(path));
        assert!(out("app.log") && !out("sub/app.log"));
        assert!(out("build") && out("build/x/y") && !out("build/keep.txt"));
        assert!(out("secret") && out("a/b/secret") && out("a/secret/inside"));
        assert!(out("docs/guide.md") && !out("docs/README.md") && !out("docs/img.png"));
        assert!(!out("src/main.rs"));
        assert!(rules.has_exceptions());
        assert!(IgnoreRules::parse("[ab]\n").is_err());
        assert!(IgnoreRules::parse("../x\n").is_err());
    }

    #[test]
    fn instructions_are_joined_and_split() {
        let file = "# syntax=docker/dockerfile:1\n\
                    # a comment\n\
                    FROM --platform=linux/amd64 demo AS build\n\
                    \n\
                    RUN echo one \\\n\
                    # skipped inside the line\n\
                    \x20   && echo two\n\
                    cmd [\"sh\", \"-c\", \"echo hi\"]\n\
                    COPY --from=build /a /b\n\
                    ENTRYPOINT [not json\n";
        let parsed = parse(file).unwrap();
        assert_eq!(parsed.len(), 5);
        assert_eq!(parsed[0].keyword, "FROM");
        assert_eq!(parsed[0].flags, [("platform".into(), "linux/amd64".into())]);
        assert_eq!(parsed[0].args, Args::Text("demo AS build".into()));
        assert_eq!(parsed[1].line, 5);
        assert_eq!(
            parsed[1].args,
            Args::Text("echo one     && echo two".into())
        );
        assert_eq!(parsed[2].keyword, "CMD");
        assert_eq!(
            parsed[2].args,
            Args::Json(vec!["sh".into(), "-c".into(), "echo hi".into()])
        );
        assert_eq!(parsed[3].flags, [("from".into(), "build".into())]);
        assert_eq!(parsed[4].args, Args::Text("[not json".into()));
        let err = parse("# escape=`\nFROM demo\n").unwrap_err();
        assert!(matches!(err, EngineError::NotSupported(_)), "{err}");
    }

    #[test]
    fn variables_are_put_in_as_docker_does() {
        let vars = BTreeMap::from([
            ("A".to_string(), "one".to_string()),
            ("EMPTY".to_string(), String::new()),
        ]);
        let expanded = |text: &str| expand(text, &vars, 1).unwrap();
        assert_eq!(expanded("$A/${A}x $NOPE."), "one/onex .");
        assert_eq!(
            expanded("${EMPTY:-d} ${A:-d} ${A:+set} ${EMPTY:+set}|"),
            "d one set |"
        );
        assert_eq!(expanded("\\$A costs $5 and $"), "$A costs  and $");
        assert_eq!(expanded("${NOPE:-${A}}"), "one");
        assert!(expand("${A", &vars, 1).is_err());
        assert!(expand("${A B}", &vars, 1).is_err());
    }

    #[test]
    fn words_and_pairs_are_read_with_their_quotes() {
        assert_eq!(
            words(r#"a "b c" 'd "e"' f\ g"#, 1).unwrap(),
            ["a", "b c", "d \"e\"", "f g"]
        );
        assert!(words("\"open", 1).is_err());
        assert_eq!(
            pairs(r#"A=1 B="two words" C=x\ y"#, &BTreeMap::new(), 1).unwrap(),
            [
                ("A".to_string(), "1".to_string()),
                ("B".to_string(), "two words".to_string()),
                ("C".to_string(), "x y".to_string())
            ]
        );
        assert_eq!(
            pairs("PATH /usr/bin:/bin  and more", &BTreeMap::new(), 1).unwrap(),
            [("PATH".to_string(), "/usr/bin:/bin  and more".to_string())]
        );
        assert!(pairs("A=1 =2", &BTreeMap::new(), 1).is_err());
        assert!(pairs("ALONE", &BTreeMap::new(), 1).is_err());
        // Variables a word at a time: a value with blanks stays in its word; none within
        // single quotes or after a backslash; the old form's value is put in whole.
        let vars = BTreeMap::from([("B".to_string(), "x y".to_string())]);
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            pairs(r#"A=$B E="$B c" D='$B' F=\$B G=${B}z"#, &vars, 1).unwrap(),
            [
                pair("A", "x y"),
                pair("E", "x y c"),
                pair("D", "$B"),
                pair("F", "$B"),
                pair("G", "x yz")
            ]
        );
        assert_eq!(
            pairs("OLD $B and more", &vars, 1).unwrap(),
            [pair("OLD", "x y and more")]
        );
    }
}
