//! YAML documents as a small tree with line numbers, from saphyr-parser's
//! events (a YAML 1.2 parser passing the YAML test suite; saphyr is the
//! maintained successor of yaml-rust, while serde_yaml is archived). Only
//! what manifests use: mappings, sequences, scalars, anchors and aliases.

use saphyr_parser::{Event, Parser, ScalarStyle, Span, SpannedEventReceiver};

/// A node and the line it starts on (1-based).
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub line: usize,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Map(Vec<(String, Node)>),
    Seq(Vec<Node>),
    /// A scalar's text, and whether it was quoted (then never a number,
    /// a bool or null).
    Scalar(String, bool),
}

impl Node {
    /// A key of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s, _) => Some(s),
            _ => None,
        }
    }

    pub fn int(&self) -> Option<i64> {
        match &self.value {
            Value::Scalar(s, false) => s.parse().ok(),
            _ => None,
        }
    }

    pub fn bool(&self) -> Option<bool> {
        match &self.value {
            Value::Scalar(s, false) if s == "true" || s == "True" => Some(true),
            Value::Scalar(s, false) if s == "false" || s == "False" => Some(false),
            _ => None,
        }
    }

    pub fn seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn map(&self) -> Option<&[(String, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }
}

/// Builds nodes from events.
#[derive(Default)]
struct Builder {
    /// Open collections: the node, and a mapping's pending key.
    stack: Vec<(Node, Option<String>)>,
    anchors: Vec<(usize, Node)>,
    docs: Vec<Node>,
    /// Anchors of the open collections, set on close.
    open_anchor: Vec<usize>,
    error: Option<(usize, String)>,
}

impl Builder {
    fn push(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.push((anchor, node.clone()));
        }
        let Some((parent, key)) = self.stack.last_mut() else {
            self.docs.push(node);
            return;
        };
        match &mut parent.value {
            Value::Seq(s) => s.push(node),
            Value::Map(m) => match key.take() {
                None => match &node.value {
                    Value::Scalar(k, _) => *key = Some(k.clone()),
                    _ => {
                        self.error.get_or_insert((
                            node.line,
                            "a mapping key must be a plain value".into(),
                        ));
                        *key = Some(String::new());
                    }
                },
                Some(k) => m.push((k, node)),
            },
            Value::Scalar(..) => {}
        }
    }
}

impl<'input> SpannedEventReceiver<'input> for Builder {
    fn on_event(&mut self, ev: Event<'input>, span: Span) {
        let line = span.start.line();
        match ev {
            Event::Scalar(text, style, anchor, _) => {
                let quoted = !matches!(style, ScalarStyle::Plain);
                let node = Node {
                    line,
                    value: Value::Scalar(text.into_owned(), quoted),
                };
                self.push(node, anchor);
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                let value = if matches!(ev, Event::SequenceStart(..)) {
                    Value::Seq(Vec::new())
                } else {
                    Value::Map(Vec::new())
                };
                self.stack.push((Node { line, value }, None));
                self.open_anchor.push(anchor);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let (Some((node, _)), Some(anchor)) = (self.stack.pop(), self.open_anchor.pop())
                {
                    self.push(node, anchor);
                }
            }
            Event::Alias(id) => {
                let found = self
                    .anchors
                    .iter()
                    .rev()
                    .find(|(a, _)| *a == id)
                    .map(|(_, n)| n.clone());
                match found {
                    Some(n) => self.push(n, 0),
                    None => {
                        self.error
                            .get_or_insert((line, "an alias of an unknown anchor".into()));
                    }
                }
            }
            _ => {}
        }
    }
}

/// Every document of `text`; an error is `file:line:column: what`.
pub fn parse(text: &str, file: &str) -> Result<Vec<Node>, String> {
    let mut b = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut b, true).map_err(|e| {
        let m = e.marker();
        format!("{file}:{}:{}: {}", m.line(), m.col() + 1, e.info())
    })?;
    if let Some((line, why)) = b.error {
        return Err(format!("{file}:{line}: {why}"));
    }
    Ok(b.docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_with_lines_quotes_and_aliases() {
        let docs = parse(
            "a: 1\nb: [x, \"2\"]\nc: &d\n  e: true\nf: *d\n---\nkind: Pod\n",
            "t.yaml",
        )
        .unwrap();
        assert_eq!(docs.len(), 2);
        let d = &docs[0];
        assert_eq!(d.get("a").and_then(Node::int), Some(1));
        let b = d.get("b").unwrap().seq().unwrap();
        assert_eq!(b[1].value, Value::Scalar("2".into(), true));
        assert_eq!(b[1].int(), None, "a quoted number is text");
        assert_eq!(
            d.get("f").and_then(|f| f.get("e")).and_then(Node::bool),
            Some(true)
        );
        assert_eq!(d.get("c").unwrap().line, 3, "where its anchor is");
        assert_eq!(docs[1].get("kind").and_then(Node::str), Some("Pod"));
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let e = parse("a: [1, 2\nb: 3\n", "bad.yaml").unwrap_err();
        assert!(e.starts_with("bad.yaml:"), "{e}");
        assert!(e.split(':').nth(1).unwrap().parse::<usize>().is_ok(), "{e}");
    }
}
