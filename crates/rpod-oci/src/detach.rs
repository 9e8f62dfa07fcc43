//! Detach keys: `ctrl-p,ctrl-q` by default, as podman parses and matches them.

use crate::{OciError, Result};

/// The default key sequence.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// Parse a detach-key spec: comma-separated single characters, `ctrl-@`, `ctrl-a`…`ctrl-z`,
/// `ctrl-[`, `ctrl-\`, `ctrl-]`, `ctrl-^`, `ctrl-_`, or `DEL`. An empty spec disables
/// detaching (no keys).
pub fn parse_detach_keys(spec: &str) -> Result<Vec<u8>> {
    if spec.is_empty() {
        return Ok(Vec::new());
    }
    spec.split(',')
        .map(|key| {
            let invalid =
                || OciError::InvalidArg(format!("invalid detach keys: Unknown character: '{key}'"));
            if key == "DEL" {
                return Ok(127);
            }
            if let Some(rest) = key.strip_prefix("ctrl-") {
                let mut chars = rest.chars();
                let (Some(c), None) = (chars.next(), chars.next()) else {
                    return Err(invalid());
                };
                return match c {
                    'a'..='z' => Ok(c as u8 - b'a' + 1),
                    '@' => Ok(0),
                    '[' => Ok(27),
                    '\\' => Ok(28),
                    ']' => Ok(29),
                    '^' => Ok(30),
                    '_' => Ok(31),
                    _ => Err(invalid()),
                };
            }
            let mut chars = key.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_ascii() => Ok(c as u8),
                _ => Err(invalid()),
            }
        })
        .collect()
}

/// The keys of a spec, or the default keys when none was given.
pub fn keys_or_default(spec: Option<&str>) -> Result<Vec<u8>> {
    parse_detach_keys(spec.unwrap_or(DEFAULT_DETACH_KEYS))
}

/// What to do with one read of user input.
#[derive(Debug, PartialEq, Eq)]
pub enum DetachStep {
    /// Send these bytes to the container (may be empty while a sequence is half typed).
    Forward(Vec<u8>),
    /// The whole sequence was typed: detach.
    Detach,
}

/// Matches detach keys in a stream of reads. A sequence only matches when each read
/// returns exactly one byte (keys typed one by one); a longer read or a wrong byte gives back
/// every byte held so far, so a lone ctrl-p still reaches the container.
pub struct DetachMatcher {
    keys: Vec<u8>,
    held: Vec<u8>,
}

impl DetachMatcher {
    pub fn new(keys: Vec<u8>) -> Self {
        DetachMatcher {
            keys,
            held: Vec::new(),
        }
    }

    pub fn feed(&mut self, data: &[u8]) -> DetachStep {
        if self.keys.is_empty() {
            return DetachStep::Forward(data.to_vec());
        }
        if let [byte] = data {
            if *byte == self.keys[self.held.len()] {
                self.held.push(*byte);
                if self.held.len() == self.keys.len() {
                    self.held.clear();
                    return DetachStep::Detach;
                }
                return DetachStep::Forward(Vec::new());
            }
            // A wrong key: give back what was held; it may start a new sequence.
            let mut out = std::mem::take(&mut self.held);
            if *byte == self.keys[0] {
                self.held.push(*byte);
            } else {
                out.push(*byte);
            }
            return DetachStep::Forward(out);
        }
        let mut out = std::mem::take(&mut self.held);
        out.extend_from_slice(data);
        DetachStep::Forward(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys() {
        assert_eq!(
            parse_detach_keys(DEFAULT_DETACH_KEYS).unwrap(),
            vec![16, 17]
        );
        assert_eq!(parse_detach_keys("ctrl-x,y").unwrap(), vec![24, b'y']);
        assert_eq!(
            parse_detach_keys("ctrl-@,DEL,ctrl-_").unwrap(),
            vec![0, 127, 31]
        );
        assert_eq!(parse_detach_keys("").unwrap(), Vec::<u8>::new());
        let err = parse_detach_keys("ctrl-1").unwrap_err().to_string();
        assert!(err.contains("invalid detach keys"), "{err}");
        assert!(parse_detach_keys("ab").is_err());
    }

    #[test]
    fn matches_only_keys_typed_one_by_one() {
        let mut m = DetachMatcher::new(vec![16, 17]);
        assert_eq!(m.feed(b"ls\n"), DetachStep::Forward(b"ls\n".to_vec()));
        assert_eq!(m.feed(&[16]), DetachStep::Forward(vec![]));
        assert_eq!(m.feed(&[17]), DetachStep::Detach);
        // Both keys in one read are data, not a detach.
        assert_eq!(m.feed(&[16, 17]), DetachStep::Forward(vec![16, 17]));
        // ctrl-p then another key: both reach the container.
        assert_eq!(m.feed(&[16]), DetachStep::Forward(vec![]));
        assert_eq!(m.feed(b"a"), DetachStep::Forward(vec![16, b'a']));
        // ctrl-p ctrl-p ctrl-q: the first ctrl-p is given back, then the sequence matches.
        assert_eq!(m.feed(&[16]), DetachStep::Forward(vec![]));
        assert_eq!(m.feed(&[16]), DetachStep::Forward(vec![16]));
        assert_eq!(m.feed(&[17]), DetachStep::Detach);
        let mut off = DetachMatcher::new(vec![]);
        assert_eq!(off.feed(&[16]), DetachStep::Forward(vec![16]));
        assert_eq!(off.feed(&[17]), DetachStep::Forward(vec![17]));
    }
}
