//! Reads one XML document into a small element tree that remembers the line of every element, attribute and
//! text, so later checks can point at the exact place.
//!
//! This layer only knows XML, not OMS: it uses quick-xml's streaming reader and turns a well-formedness
//! problem into one diagnostic (the rest of such a file cannot be trusted). Comments, the XML declaration,
//! processing instructions and a doctype are skipped; entity references are resolved.

use std::path::Path;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event as XmlEvent};

use crate::diagnostics::Diagnostic;
use crate::model::Location;

/// An element as written: qualified names are kept (`xsi:schemaLocation`), text is the concatenation of
/// the element's direct text, CDATA and references.
#[derive(Debug, Clone)]
pub(crate) struct Element {
    pub name: String,
    pub line: u32,
    pub attributes: Vec<Attribute>,
    pub children: Vec<Element>,
    pub text: String,
    /// Line of the first non-whitespace character of `text` (the element's line if there is none).
    pub text_line: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct Attribute {
    pub name: String,
    pub value: String,
    pub line: u32,
}

impl Element {
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|attribute| attribute.name == name)
    }
}

/// Byte offset → 1-based line, by binary search over the line starts.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(offset, _)| offset + 1));
        LineIndex { starts }
    }

    fn line(&self, offset: usize) -> u32 {
        let line = self.starts.partition_point(|&start| start <= offset);
        u32::try_from(line).unwrap_or(u32::MAX)
    }
}

/// OMS files are five levels deep; anything far deeper is garbage, and bounding it keeps the recursive tree
/// (and dropping it) off the edge of the stack.
const MAX_DEPTH: usize = 64;

/// Parses `text` (the contents of `file`) into its root element.
pub(crate) fn parse_document(file: &Path, text: &str) -> Result<Element, Diagnostic> {
    // A UTF-8 byte order mark is legal before the declaration; quick-xml would see it as text.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines = LineIndex::new(text);
    let at = |offset: u64| Location::new(file, lines.line(usize::try_from(offset).unwrap_or(usize::MAX)));

    let mut reader = Reader::from_str(text);
    reader.config_mut().enable_all_checks(true);

    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let start = reader.buffer_position();
        let start_offset = usize::try_from(start).unwrap_or(usize::MAX);
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(error) => {
                return Err(Diagnostic::error(
                    at(reader.error_position()),
                    format!("malformed XML: {error}"),
                ));
            }
        };
        match event {
            XmlEvent::Start(tag) | XmlEvent::Empty(tag) if root.is_some() && stack.is_empty() => {
                let name = tag.name().into_inner().to_owned();
                return Err(Diagnostic::error(
                    at(start),
                    format!("malformed XML: second root element <{name}>"),
                ));
            }
            XmlEvent::Start(_) if stack.len() >= MAX_DEPTH => {
                return Err(Diagnostic::error(
                    at(start),
                    format!("malformed XML: elements nested deeper than {MAX_DEPTH}"),
                ));
            }
            XmlEvent::Start(tag) => {
                let raw = text.get(start_offset..).unwrap_or_default();
                stack.push(
                    element(&tag, raw, start_offset, &lines)
                        .map_err(|message| Diagnostic::error(at(start), message))?,
                );
            }
            XmlEvent::Empty(tag) => {
                let raw = text.get(start_offset..).unwrap_or_default();
                let done = element(&tag, raw, start_offset, &lines)
                    .map_err(|message| Diagnostic::error(at(start), message))?;
                close(done, &mut stack, &mut root);
            }
            XmlEvent::End(_) => {
                // The reader checks that end names match, so an End always closes the innermost element.
                if let Some(done) = stack.pop() {
                    close(done, &mut stack, &mut root);
                }
            }
            XmlEvent::Text(content) => {
                let raw: &str = &content;
                let leading = raw.len() - raw.trim_start().len();
                let value = content.xml10_content();
                append_text(&mut stack, &value, lines.line(start_offset + leading), || at(start))?;
            }
            XmlEvent::CData(content) => {
                let value = content.xml10_content();
                append_text(&mut stack, &value, lines.line(start_offset), || at(start))?;
            }
            XmlEvent::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(character)) => character.to_string(),
                    Ok(None) => match quick_xml::escape::resolve_predefined_entity(&reference) {
                        Some(value) => value.to_owned(),
                        None => {
                            let name: &str = &reference;
                            return Err(Diagnostic::error(
                                at(start),
                                format!("malformed XML: unknown entity &{name};"),
                            ));
                        }
                    },
                    Err(error) => return Err(Diagnostic::error(at(start), format!("malformed XML: {error}"))),
                };
                append_text(&mut stack, &resolved, lines.line(start_offset), || at(start))?;
            }
            XmlEvent::Comment(_) | XmlEvent::Decl(_) | XmlEvent::PI(_) | XmlEvent::DocType(_) => {}
            XmlEvent::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(Diagnostic::error(
            Location::new(file, open.line),
            format!("malformed XML: <{}> is never closed", open.name),
        ));
    }
    root.ok_or_else(|| Diagnostic::error(Location::new(file, 1), "malformed XML: no root element"))
}

fn close(done: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(done),
        None => *root = Some(done),
    }
}

/// Adds text to the innermost open element; outside the root only whitespace is allowed.
fn append_text(stack: &mut [Element], value: &str, line: u32, at: impl Fn() -> Location) -> Result<(), Diagnostic> {
    match stack.last_mut() {
        Some(parent) => {
            if parent.text.trim().is_empty() && !value.trim().is_empty() {
                parent.text_line = line;
            }
            parent.text.push_str(value);
            Ok(())
        }
        None if value.trim().is_empty() => Ok(()),
        None => Err(Diagnostic::error(at(), "malformed XML: text outside the root element")),
    }
}

/// Builds an element from a start tag; `raw` is the source from the tag's `<` on, used to find the line of
/// each attribute (a start tag may span several lines).
fn element(tag: &BytesStart<'_>, raw: &str, tag_offset: usize, lines: &LineIndex) -> Result<Element, String> {
    let name = tag.name().into_inner().to_owned();
    let line = lines.line(tag_offset);
    let mut attributes = Vec::new();
    let mut cursor = 1 + name.len();
    for attribute in tag.attributes() {
        let attribute = attribute.map_err(|error| format!("malformed XML: {error}"))?;
        let key = attribute.key.into_inner().to_owned();
        let value = attribute
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|error| format!("malformed XML: attribute '{key}': {error}"))?
            .into_owned();
        let (key_offset, next_cursor) = find_attribute(raw, cursor, &key).unwrap_or((0, cursor));
        cursor = next_cursor;
        attributes.push(Attribute {
            name: key,
            value,
            line: lines.line(tag_offset + key_offset),
        });
    }
    Ok(Element {
        name,
        line,
        attributes,
        children: Vec::new(),
        text: String::new(),
        text_line: line,
    })
}

/// Finds `key="…"` in a start tag from `cursor` on; returns the key's offset and the offset after the value.
/// Attributes come in source order, so searching from the end of the previous value never matches text
/// inside an earlier value.
fn find_attribute(raw: &str, cursor: usize, key: &str) -> Option<(usize, usize)> {
    let mut search_from = cursor;
    loop {
        let found = search_from + raw.get(search_from..)?.find(key)?;
        let preceded_by_space = raw[..found].ends_with(|c: char| c.is_ascii_whitespace());
        let after_key = raw[found + key.len()..].trim_start();
        if preceded_by_space && after_key.starts_with('=') {
            let after_equals = after_key[1..].trim_start();
            let quote = after_equals.chars().next()?;
            let value_start = raw.len() - after_equals.len() + quote.len_utf8();
            let value_end = value_start + raw.get(value_start..)?.find(quote)? + quote.len_utf8();
            return Some((found, value_end));
        }
        search_from = found + key.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_lines_of_elements_attributes_and_text() {
        let xml = "<?xml version=\"1.0\"?>\n<!-- c -->\n<root a=\"1\"\n  b=\"x &amp; y\">\n  <child>\n    text &lt;here&gt;\n  </child><e/>\n</root>\n";
        let root = parse_document(Path::new("t.xml"), xml).expect("parses");
        assert_eq!((root.name.as_str(), root.line), ("root", 3));
        let b = root.attribute("b").expect("b");
        assert_eq!((b.value.as_str(), b.line), ("x & y", 4));
        assert_eq!(root.attribute("a").map(|a| a.line), Some(3));
        let child = &root.children[0];
        assert_eq!((child.line, child.text.trim(), child.text_line), (5, "text <here>", 6));
        assert_eq!((root.children[1].name.as_str(), root.children[1].line), ("e", 7));
    }

    #[test]
    fn attribute_value_containing_another_key_does_not_confuse_lines() {
        let xml = "<root a=\" b=1\"\n b=\"2\"/>";
        let root = parse_document(Path::new("t.xml"), xml).expect("parses");
        assert_eq!(root.attribute("b").map(|b| (b.value.as_str(), b.line)), Some(("2", 2)));
    }

    #[test]
    fn malformed_documents_are_one_diagnostic_with_a_line() {
        let cases = [
            ("<root>\n  <a>\n  </b>\n</root>", 3),
            ("<root>\n  <a>\n</root>", 3),
            ("<root>\n<a x=\"1\" x=\"2\"/>\n</root>", 2),
            ("<root>\n</root>\n<second/>", 3),
            ("<root>\n  <a>", 2),
            ("<root>&nbsp;</root>", 1),
            ("", 1),
        ];
        for (xml, line) in cases {
            let error = parse_document(Path::new("t.xml"), xml).expect_err(xml);
            assert_eq!(error.location.line, line, "{xml}: {error}");
            assert!(error.message.starts_with("malformed XML: "), "{error}");
        }
    }
}
