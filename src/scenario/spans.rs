//! Where each value sits in a RON file: a map from field path (`services[1].replicas`) to
//! line and column, so that problems found after parsing (an unknown service name, a rate of
//! zero) point at the line the user must edit.
//!
//! serde does not expose positions, so this is a small second reader of RON's syntax that only
//! records where values start. It is best-effort: on syntax it does not follow it stops, and
//! lookups fall back to the nearest enclosing path. The real parser (the `ron` crate) remains
//! the authority on whether the file is valid.

use std::collections::BTreeMap;

/// Positions of values by field path; lines and columns start at 1.
#[derive(Clone, Debug, Default)]
pub struct SpanIndex {
    map: BTreeMap<String, (usize, usize)>,
    /// Byte ranges of the values that were read to their end.
    ranges: BTreeMap<String, (usize, usize)>,
}

impl SpanIndex {
    pub fn build(text: &str) -> SpanIndex {
        let mut r = Reader {
            s: text.as_bytes(),
            i: 0,
            line: 1,
            col: 1,
            map: BTreeMap::new(),
            ranges: BTreeMap::new(),
        };
        let _ = r.value(String::new());
        SpanIndex {
            map: r.map,
            ranges: r.ranges,
        }
    }

    /// The byte range of the value at exactly `path`, if the reader followed it to its end.
    pub fn range(&self, path: &str) -> Option<(usize, usize)> {
        self.ranges.get(path).copied()
    }

    /// The position of `path`, or of its nearest enclosing path that has one.
    pub fn lookup(&self, path: &str) -> Option<(usize, usize)> {
        let mut p = path.to_string();
        loop {
            if let Some(&pos) = self.map.get(&p) {
                return Some(pos);
            }
            let cut = p.rfind(['.', '['])?;
            p.truncate(cut);
        }
    }
}

struct Reader<'a> {
    s: &'a [u8],
    i: usize,
    line: usize,
    col: usize,
    map: BTreeMap<String, (usize, usize)>,
    ranges: BTreeMap<String, (usize, usize)>,
}

fn field(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}
fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn peek_at(&self, k: usize) -> Option<u8> {
        self.s.get(self.i + k).copied()
    }
    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.i += 1;
        if b == b'\n' {
            self.line += 1;
            self.col = 1;
        } else if b & 0xC0 != 0x80 {
            // Count characters, not bytes: continuation bytes of UTF-8 do not move the column.
            self.col += 1;
        }
        Some(b)
    }
    fn skip_ws(&mut self) {
        loop {
            match (self.peek(), self.peek_at(1)) {
                (Some(b), _) if b.is_ascii_whitespace() => {
                    self.bump();
                }
                (Some(b'/'), Some(b'/')) => {
                    while let Some(b) = self.peek() {
                        if b == b'\n' {
                            break;
                        }
                        self.bump();
                    }
                }
                (Some(b'/'), Some(b'*')) => {
                    self.bump();
                    self.bump();
                    let mut depth = 1;
                    while depth > 0 {
                        match (self.peek(), self.peek_at(1)) {
                            (None, _) => return,
                            (Some(b'*'), Some(b'/')) => {
                                depth -= 1;
                                self.bump();
                                self.bump();
                            }
                            (Some(b'/'), Some(b'*')) => {
                                depth += 1;
                                self.bump();
                                self.bump();
                            }
                            _ => {
                                self.bump();
                            }
                        }
                    }
                }
                _ => return,
            }
        }
    }
    fn ident(&mut self) -> String {
        let start = self.i;
        while self.peek().is_some_and(is_ident) {
            self.bump();
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }
    fn expect(&mut self, b: u8) -> Option<()> {
        self.skip_ws();
        if self.peek()? == b {
            self.bump();
            Some(())
        } else {
            None
        }
    }
    fn comma(&mut self) {
        self.skip_ws();
        if self.peek() == Some(b',') {
            self.bump();
        }
    }

    fn value(&mut self, path: String) -> Option<()> {
        self.skip_ws();
        self.map
            .entry(path.clone())
            .or_insert((self.line, self.col));
        let start = self.i;
        self.value_body(&path)?;
        // Overwrite: a newtype variant's inner value shares the path and finishes first.
        self.ranges.insert(path, (start, self.i));
        Some(())
    }

    fn value_body(&mut self, path: &str) -> Option<()> {
        let path = path.to_string();
        match self.peek()? {
            b'"' => self.string(),
            b'r' if matches!(self.peek_at(1), Some(b'"') | Some(b'#')) => self.raw_string(),
            b'\'' => {
                self.bump();
                while let Some(b) = self.bump() {
                    match b {
                        b'\\' => {
                            self.bump();
                        }
                        b'\'' => break,
                        _ => {}
                    }
                }
                Some(())
            }
            b'[' => {
                self.bump();
                let mut idx = 0;
                loop {
                    self.skip_ws();
                    if self.peek()? == b']' {
                        self.bump();
                        return Some(());
                    }
                    self.value(format!("{path}[{idx}]"))?;
                    idx += 1;
                    self.comma();
                }
            }
            b'{' => {
                self.bump();
                loop {
                    self.skip_ws();
                    if self.peek()? == b'}' {
                        self.bump();
                        return Some(());
                    }
                    let key_start = self.i;
                    self.value(format!("{path}.<key>"))?;
                    let key = String::from_utf8_lossy(&self.s[key_start..self.i])
                        .trim_matches('"')
                        .to_string();
                    self.expect(b':')?;
                    self.value(field(&path, &key))?;
                    self.comma();
                }
            }
            b'(' => self.paren(&path),
            b if is_ident_start(b) => {
                self.ident();
                self.skip_ws();
                if self.peek() == Some(b'(') {
                    self.paren(&path)?;
                }
                Some(())
            }
            _ => {
                // A number (or something this reader does not follow: stop there).
                let start = self.i;
                while self
                    .peek()
                    .is_some_and(|b| is_ident(b) || matches!(b, b'.' | b'+' | b'-'))
                {
                    self.bump();
                }
                (self.i > start).then_some(())
            }
        }
    }

    fn string(&mut self) -> Option<()> {
        self.bump();
        loop {
            match self.bump()? {
                b'\\' => {
                    self.bump();
                }
                b'"' => return Some(()),
                _ => {}
            }
        }
    }

    fn raw_string(&mut self) -> Option<()> {
        self.bump(); // r
        let mut hashes = 0;
        while self.peek() == Some(b'#') {
            hashes += 1;
            self.bump();
        }
        if self.bump()? != b'"' {
            return None;
        }
        loop {
            if self.bump()? == b'"' {
                let mut n = 0;
                while n < hashes && self.peek() == Some(b'#') {
                    n += 1;
                    self.bump();
                }
                if n == hashes {
                    return Some(());
                }
            }
        }
    }

    /// `( ... )`: a struct's named fields, or a tuple. A one-element tuple (a newtype variant
    /// such as `Constant("1ms")`) shares its parent's path; later elements are indexed.
    fn paren(&mut self, path: &str) -> Option<()> {
        self.expect(b'(')?;
        self.skip_ws();
        if self.looks_like_field() {
            loop {
                self.skip_ws();
                if self.peek()? == b')' {
                    self.bump();
                    return Some(());
                }
                let name = self.ident();
                if name.is_empty() {
                    return None;
                }
                self.expect(b':')?;
                self.value(field(path, &name))?;
                self.comma();
            }
        }
        let mut idx = 0;
        loop {
            self.skip_ws();
            if self.peek()? == b')' {
                self.bump();
                return Some(());
            }
            let p = if idx == 0 {
                path.to_string()
            } else {
                format!("{path}[{idx}]")
            };
            self.value(p)?;
            idx += 1;
            self.comma();
        }
    }

    fn looks_like_field(&self) -> bool {
        let mut k = self.i;
        if !self.s.get(k).copied().is_some_and(is_ident_start) {
            return false;
        }
        while self.s.get(k).copied().is_some_and(is_ident) {
            k += 1;
        }
        while self.s.get(k).is_some_and(|b| b.is_ascii_whitespace()) {
            k += 1;
        }
        self.s.get(k) == Some(&b':') && self.s.get(k + 1) != Some(&b':')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_paths() {
        let text = r#"// a comment
(
    name: "x",
    services: [
        (name: "a", replicas: 2, service_time: Exponential(mean: "1ms")),
        (
            name: "b", /* block */ calls: [(to: "a")],
            service_time: Mixture([(weight: 1.0, dist: Constant("1ms"))]),
        ),
    ],
)"#;
        let idx = SpanIndex::build(text);
        assert_eq!(idx.lookup("name"), Some((3, 11)));
        assert_eq!(idx.lookup("services[0].replicas"), Some((5, 31)));
        assert_eq!(idx.lookup("services[0].service_time.mean"), Some((5, 66)));
        assert_eq!(idx.lookup("services[1].calls[0].to"), Some((7, 49)));
        assert_eq!(
            idx.lookup("services[1].service_time[0].dist"),
            Some((8, 56))
        );
        // Unknown paths fall back to the nearest ancestor.
        assert_eq!(idx.lookup("services[1].calls[0].nope"), Some((7, 44)));
    }
}
