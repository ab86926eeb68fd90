//! White-space stripping, ported from FreeMarker's `TextBlock.postParseCleanup` rules.
//!
//! Lines that hold only FTL tags (not interpolations) lose their indentation and line break; `<#t>`,
//! `<#lt>`, `<#rt>` and `<#nt>` trim deliberately; white-space-only text between non-outputting elements
//! (`#assign`, `#macro`, `#setting`, comments) disappears. FreeMarker decides this on its element tree, looking
//! at neighbouring leaves on the same line, so this module works on the parser's arena with the same notions
//! (previous/next terminal node, sibling, top level) and processes elements in the same order.

use crate::parser::{AKind, Arena};

/// Maps byte offsets to 1-based lines and columns.
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(src: &str) -> LineIndex {
        let mut starts = vec![0];
        for (i, b) in src.bytes().enumerate() {
            if b == b'\n' {
                starts.push(i + 1);
            }
        }
        LineIndex { starts }
    }

    /// (line, column) of a byte offset, 1-based; columns count bytes (only compared for `== 1`).
    pub fn position(&self, offset: usize) -> (u32, u32) {
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        ((line + 1) as u32, (offset - self.starts[line] + 1) as u32)
    }
}

#[derive(Clone, Copy)]
struct Pos {
    begin_line: u32,
    begin_col: u32,
    end_line: u32,
}

struct Stripper<'a> {
    arena: &'a mut Arena,
    pos: Vec<Pos>,
}

/// Runs FreeMarker's post-parse white-space cleanup over the whole arena.
pub(crate) fn strip(arena: &mut Arena, lines: &LineIndex) {
    let pos = arena
        .nodes
        .iter()
        .map(|n| {
            let (begin_line, begin_col) = lines.position(n.begin);
            let (end_line, _) = lines.position(n.end);
            Pos {
                begin_line,
                begin_col,
                end_line,
            }
        })
        .collect();
    let mut s = Stripper { arena, pos };
    s.cleanup(0);
}

/// `StringUtil.isTrimmableToEmpty`: only characters up to U+0020.
fn trimmable(chars: &[char]) -> bool {
    chars.iter().all(|&c| c <= ' ')
}

/// Java's `Character.isWhitespace`.
fn java_ws(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | '\u{1c}'..='\u{1f}'
    ) || (c.is_whitespace() && !matches!(c, '\u{a0}' | '\u{2007}' | '\u{202f}'))
}

impl Stripper<'_> {
    fn cleanup(&mut self, idx: usize) {
        if matches!(self.arena.nodes[idx].kind, AKind::Text(_)) {
            self.text_cleanup(idx);
            return;
        }
        let count = self.arena.nodes[idx].children.len();
        for i in 0..count {
            let c = self.arena.nodes[idx].children[i];
            self.cleanup(c);
        }
        // FreeMarker's root is the only element itself when there is just one; nothing removes it.
        if self.arena.nodes[idx].parent.is_none() && self.arena.nodes[idx].children.len() == 1 {
            return;
        }
        let mut i = 0;
        while i < self.arena.nodes[idx].children.len() {
            let c = self.arena.nodes[idx].children[i];
            if self.is_ignorable(c) {
                self.arena.nodes[idx].children.remove(i);
            } else {
                i += 1;
            }
        }
    }

    fn text(&self, idx: usize) -> Vec<char> {
        match &self.arena.nodes[idx].kind {
            AKind::Text(t) => t.chars().collect(),
            _ => Vec::new(),
        }
    }

    fn set_text(&mut self, idx: usize, chars: &[char]) {
        if let AKind::Text(t) = &mut self.arena.nodes[idx].kind {
            *t = chars.iter().collect();
        }
    }

    fn parent(&self, idx: usize) -> Option<usize> {
        self.arena.nodes[idx].parent
    }

    fn is_top_level_parent(&self, parent: Option<usize>) -> bool {
        match parent {
            None => true,
            Some(p) => self.arena.nodes[p].parent.is_none(),
        }
    }

    fn sibling(&self, idx: usize, delta: isize) -> Option<usize> {
        let p = self.parent(idx)?;
        let kids = &self.arena.nodes[p].children;
        let i = kids.iter().position(|&k| k == idx)? as isize + delta;
        if i < 0 {
            None
        } else {
            kids.get(i as usize).copied()
        }
    }

    fn is_leaf_like(&self, idx: usize) -> bool {
        let n = &self.arena.nodes[idx];
        n.children.is_empty() || matches!(n.kind, AKind::Macro(_) | AKind::Capture { .. })
    }

    fn first_leaf(&self, mut idx: usize) -> usize {
        while !self.is_leaf_like(idx) {
            idx = self.arena.nodes[idx].children[0];
        }
        idx
    }

    fn last_leaf(&self, mut idx: usize) -> usize {
        while !self.is_leaf_like(idx) {
            let kids = &self.arena.nodes[idx].children;
            idx = kids[kids.len() - 1];
        }
        idx
    }

    fn prev_terminal(&self, idx: usize) -> Option<usize> {
        if let Some(prev) = self.sibling(idx, -1) {
            return Some(self.last_leaf(prev));
        }
        let p = self.parent(idx)?;
        self.prev_terminal(p)
    }

    fn next_terminal(&self, idx: usize) -> Option<usize> {
        if let Some(next) = self.sibling(idx, 1) {
            return Some(self.first_leaf(next));
        }
        let p = self.parent(idx)?;
        self.next_terminal(p)
    }

    fn non_outputting(&self, idx: Option<usize>) -> bool {
        idx.is_some_and(|i| {
            matches!(
                self.arena.nodes[i].kind,
                AKind::Macro(_) | AKind::Assign { .. } | AKind::Setting { .. } | AKind::Comment
            )
        })
    }

    fn is_ignorable(&self, idx: usize) -> bool {
        let AKind::Text(t) = &self.arena.nodes[idx].kind else {
            return false;
        };
        if t.is_empty() {
            return true;
        }
        if !t.chars().all(|c| c <= ' ') {
            return false;
        }
        let top = self.is_top_level_parent(self.parent(idx));
        let prev = self.sibling(idx, -1);
        let next = self.sibling(idx, 1);
        ((prev.is_none() && top) || self.non_outputting(prev))
            && ((next.is_none() && top) || self.non_outputting(next))
    }

    fn heeds_opening(&self, idx: usize) -> bool {
        match &self.arena.nodes[idx].kind {
            AKind::Interp(_) | AKind::LegacyInterp(..) => true,
            AKind::Text(_) => {
                if self.is_ignorable(idx) {
                    return false;
                }
                for &c in self.text(idx).iter().rev() {
                    if c == '\n' || c == '\r' {
                        return false;
                    }
                    if !java_ws(c) {
                        return true;
                    }
                }
                true
            }
            _ => false,
        }
    }

    fn heeds_trailing(&self, idx: usize) -> bool {
        match &self.arena.nodes[idx].kind {
            AKind::Interp(_) | AKind::LegacyInterp(..) => true,
            AKind::Text(_) => {
                if self.is_ignorable(idx) {
                    return false;
                }
                for &c in self.text(idx).iter() {
                    if c == '\n' || c == '\r' {
                        return false;
                    }
                    if !java_ws(c) {
                        return true;
                    }
                }
                true
            }
            _ => false,
        }
    }

    fn trim_of(&self, idx: usize) -> Option<(bool, bool)> {
        match self.arena.nodes[idx].kind {
            AKind::Trim { left, right } => Some((left, right)),
            _ => None,
        }
    }

    fn text_cleanup(&mut self, idx: usize) {
        if self.text(idx).is_empty() {
            return;
        }
        let left = self.deliberate_left_trim(idx);
        let right = self.deliberate_right_trim(idx);
        let parent = self.parent(idx);
        if self.is_top_level_parent(parent) && self.sibling(idx, -1).is_none() {
            return;
        }
        let trailing = if !left {
            self.trailing_chars_to_strip(idx)
        } else {
            0
        };
        let opening = if !right {
            self.opening_chars_to_strip(idx)
        } else {
            0
        };
        if opening == 0 && trailing == 0 {
            return;
        }
        let text = self.text(idx);
        let end = text
            .len()
            .saturating_sub(trailing)
            .max(opening.min(text.len()));
        let new: Vec<char> = text[opening.min(text.len())..end].to_vec();
        self.set_text(idx, &new);
        if opening > 0 {
            self.pos[idx].begin_line += 1;
            self.pos[idx].begin_col = 1;
        }
    }

    fn deliberate_left_trim(&mut self, idx: usize) -> bool {
        let mut result = false;
        let mut elem = self.next_terminal(idx);
        while let Some(e) = elem {
            if self.pos[e].begin_line != self.pos[idx].end_line {
                break;
            }
            if let Some((l, r)) = self.trim_of(e) {
                if !l && !r {
                    result = true;
                }
                if l {
                    result = true;
                    let text = self.text(idx);
                    let last_nl = text.iter().rposition(|&c| c == '\n' || c == '\r');
                    if last_nl.is_some() || self.pos[idx].begin_col == 1 {
                        let cut = last_nl.map_or(0, |i| i + 1);
                        let first_part = &text[..cut];
                        let last_line = &text[cut..];
                        if trimmable(last_line) {
                            let fp = first_part.to_vec();
                            self.set_text(idx, &fp);
                        } else {
                            let i = last_line
                                .iter()
                                .position(|&c| !java_ws(c))
                                .unwrap_or(last_line.len());
                            let mut joined = first_part.to_vec();
                            joined.extend_from_slice(&last_line[i..]);
                            self.set_text(idx, &joined);
                        }
                    }
                }
            }
            elem = self.next_terminal(e);
        }
        result
    }

    fn deliberate_right_trim(&mut self, idx: usize) -> bool {
        let mut result = false;
        let mut elem = self.prev_terminal(idx);
        while let Some(e) = elem {
            if self.pos[e].end_line != self.pos[idx].begin_line {
                break;
            }
            if let Some((l, r)) = self.trim_of(e) {
                if !l && !r {
                    result = true;
                }
                if r {
                    result = true;
                    let text = self.text(idx);
                    let first_nl = text.iter().position(|&c| c == '\n' || c == '\r');
                    let Some(first_nl) = first_nl else {
                        return false;
                    };
                    let mut first_line_index = first_nl + 1;
                    if text.len() > first_line_index
                        && text[first_line_index - 1] == '\r'
                        && text[first_line_index] == '\n'
                    {
                        first_line_index += 1;
                    }
                    let trailing_part = text[first_line_index..].to_vec();
                    let opening_part = &text[..first_line_index];
                    if trimmable(opening_part) {
                        self.set_text(idx, &trailing_part);
                        self.pos[idx].begin_line += 1;
                        self.pos[idx].begin_col = 1;
                    } else {
                        let mut last_non_ws = opening_part.len() as isize - 1;
                        while last_non_ws >= 0 && java_ws(text[last_non_ws as usize]) {
                            last_non_ws -= 1;
                        }
                        let printable = text[..(last_non_ws + 1) as usize].to_vec();
                        let mut trailing = trailing_part;
                        if trimmable(&trailing) {
                            let mut trim_trailing = true;
                            let mut te = self.next_terminal(idx);
                            while let Some(t) = te {
                                if self.pos[t].begin_line != self.pos[idx].end_line {
                                    break;
                                }
                                if self.heeds_opening(t) {
                                    trim_trailing = false;
                                }
                                if matches!(self.trim_of(t), Some((true, _))) {
                                    trim_trailing = true;
                                    break;
                                }
                                te = self.next_terminal(t);
                            }
                            if trim_trailing {
                                trailing.clear();
                            }
                        }
                        let mut joined = printable;
                        joined.extend_from_slice(&trailing);
                        self.set_text(idx, &joined);
                    }
                }
            }
            elem = self.prev_terminal(e);
        }
        result
    }

    fn opening_chars_to_strip(&self, idx: usize) -> usize {
        let text = self.text(idx);
        let nl = text.iter().position(|&c| c == '\n' || c == '\r');
        if nl.is_none() && self.pos[idx].begin_col != 1 {
            return 0;
        }
        let mut n = nl.map_or(0, |i| i + 1);
        if text.len() > n && n > 0 && text[n - 1] == '\r' && text[n] == '\n' {
            n += 1;
        }
        if !trimmable(&text[..n]) {
            return 0;
        }
        let mut elem = self.prev_terminal(idx);
        while let Some(e) = elem {
            if self.pos[e].end_line != self.pos[idx].begin_line {
                break;
            }
            if self.heeds_opening(e) {
                return 0;
            }
            elem = self.prev_terminal(e);
        }
        n
    }

    fn trailing_chars_to_strip(&self, idx: usize) -> usize {
        let text = self.text(idx);
        let last_nl = text.iter().rposition(|&c| c == '\n' || c == '\r');
        if last_nl.is_none() && self.pos[idx].begin_col != 1 {
            return 0;
        }
        let from = last_nl.map_or(0, |i| i + 1);
        if !trimmable(&text[from..]) {
            return 0;
        }
        let mut elem = self.next_terminal(idx);
        while let Some(e) = elem {
            if self.pos[e].begin_line != self.pos[idx].end_line {
                break;
            }
            if self.heeds_trailing(e) {
                return 0;
            }
            elem = self.next_terminal(e);
        }
        text.len() - from
    }
}
