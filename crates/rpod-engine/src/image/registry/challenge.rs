//! `WWW-Authenticate` challenges of a registry (RFC 7235): which scheme it wants and, for a
//! bearer token, where to get one. Written by hand: the grammar is small and the crates for
//! it are unmaintained; the header is a stranger's input, so nothing here panics on it.

use std::collections::BTreeMap;

/// One challenge: a scheme (`basic`, `bearer`, lower-cased) and its parameters (names
/// lower-cased, values unquoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// The challenges of one header value, in order. Text that does not parse ends the list.
pub fn parse(header: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let mut rest = header.trim_start();
    while !rest.is_empty() {
        let token_end = rest
            .find(|c: char| c.is_whitespace() || c == ',' || c == '=')
            .unwrap_or(rest.len());
        let token = &rest[..token_end];
        let after = rest[token_end..].trim_start();
        if token.is_empty() {
            // A stray comma between challenges or parameters.
            rest = rest[1..].trim_start();
            continue;
        }
        if let Some(value_text) = after.strip_prefix('=') {
            // A parameter of the current challenge.
            let Some(current) = out.last_mut() else {
                break;
            };
            let Some((value, remaining)) = parse_value(value_text.trim_start()) else {
                break;
            };
            current.params.insert(token.to_ascii_lowercase(), value);
            rest = remaining.trim_start();
        } else {
            out.push(Challenge {
                scheme: token.to_ascii_lowercase(),
                params: BTreeMap::new(),
            });
            rest = after;
        }
    }
    out
}

/// A quoted string (with backslash escapes) or a token, and what follows it.
fn parse_value(text: &str) -> Option<(String, &str)> {
    if let Some(quoted) = text.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return Some((value, &quoted[i + 1..])),
                '\\' => value.push(chars.next()?.1),
                c => value.push(c),
            }
        }
        return None;
    }
    let end = text
        .find(|c: char| c.is_whitespace() || c == ',')
        .unwrap_or(text.len());
    Some((text[..end].to_string(), &text[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_challenge_gives_its_realm_service_and_scope() {
        let got = parse(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].scheme, "bearer");
        assert_eq!(got[0].param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(got[0].param("service"), Some("registry.docker.io"));
        assert_eq!(
            got[0].param("scope"),
            Some("repository:library/busybox:pull")
        );
    }

    #[test]
    fn several_challenges_tokens_and_escapes_are_read() {
        let got = parse(r#"Basic realm="a \"b\"", Bearer realm=x , error=insufficient_scope"#);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].scheme, "basic");
        assert_eq!(got[0].param("realm"), Some(r#"a "b""#));
        assert_eq!(got[1].param("realm"), Some("x"));
        assert_eq!(got[1].param("error"), Some("insufficient_scope"));
    }

    #[test]
    fn broken_headers_give_what_parsed_and_never_panic() {
        assert!(parse("").is_empty());
        assert!(parse("   ").is_empty());
        assert_eq!(parse(r#"Bearer realm="unterminated"#).len(), 1);
        assert_eq!(parse(r#"Bearer realm="unterminated"#)[0].params.len(), 0);
        for text in [",,,", "Basic ,", "Basic realm=", "é=\"", "Bearer a=\"\\"] {
            let _ = parse(text);
        }
    }
}
