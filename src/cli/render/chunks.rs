//! The input of `render` cut into chunks of whole lines, the unit of work of a render thread.
//! The input is read a chunk at a time straight into the chunk's buffer (no line-by-line copy
//! out of a `BufReader`), and each chunk is cut after its last newline; the partial line after
//! it starts the next chunk.

use std::io::{self, Read};
use std::sync::{Arc, Mutex};

/// Big enough that handing a chunk to a thread costs nothing next to rendering it (at 64 KiB,
/// waking the threads for each chunk took a tenth of the job), small enough that the first
/// outputs appear at once (a chunk renders in a few milliseconds).
const CHUNK_BYTES: usize = 1 << 20;

/// Some whole input lines, or the read error that ended the input.
pub enum Chunk {
    Lines { first_line: usize, text: Vec<u8> },
    Failed { line: usize, error: io::Error },
}

/// Buffers handed back for reuse by the thread done with them: a fresh 1 MiB buffer per chunk,
/// freed on another thread, costs the kernel a page fault per page.
pub struct Spare<T>(Arc<Mutex<Vec<T>>>);

impl<T> Spare<T> {
    /// A buffer given back, if one is.
    pub fn take(&self) -> Option<T> {
        self.0.lock().ok()?.pop()
    }

    pub fn give(&self, buffer: T) {
        if let Ok(mut spare) = self.0.lock() {
            spare.push(buffer);
        }
    }
}

impl<T> Default for Spare<T> {
    fn default() -> Self {
        Spare(Arc::default())
    }
}

impl<T> Clone for Spare<T> {
    fn clone(&self) -> Self {
        Spare(Arc::clone(&self.0))
    }
}

/// Cuts a reader's lines into chunks.
pub struct Chunks {
    reader: Box<dyn Read + Send>,
    /// The start of a line read with the previous chunk, which did not end it.
    carry: Vec<u8>,
    next_line: usize,
    done: bool,
    /// A read error met after some lines, handed out after them.
    failed: Option<Chunk>,
    pub spare: Spare<Vec<u8>>,
}

impl Chunks {
    pub fn new(reader: Box<dyn Read + Send>) -> Chunks {
        Chunks {
            reader,
            carry: Vec::new(),
            next_line: 1,
            done: false,
            failed: None,
            spare: Spare::default(),
        }
    }

    /// The next chunk: whole lines (the last one may lack its newline at the end of the input),
    /// then the read error, if one ended the input.
    pub fn next(&mut self) -> Option<Chunk> {
        if self.done {
            return self.failed.take();
        }
        let first_line = self.next_line;
        let text = self.read_lines();
        self.next_line += memchr::memchr_iter(b'\n', &text).count();
        if text.is_empty() {
            return self.failed.take();
        }
        Some(Chunk::Lines { first_line, text })
    }

    /// Reads into a (reused) buffer until it holds a chunk's worth ending a line, or the input
    /// ends.
    fn read_lines(&mut self) -> Vec<u8> {
        let mut text = self
            .spare
            .take()
            .unwrap_or_else(|| Vec::with_capacity(CHUNK_BYTES + (1 << 16)));
        text.clear();
        text.append(&mut self.carry);
        // Where to look for the chunk's last newline: the bytes before hold none.
        let mut unsearched = 0;
        loop {
            if text.len() >= CHUNK_BYTES {
                match memchr::memrchr(b'\n', &text[unsearched..]) {
                    Some(newline) => {
                        self.carry
                            .extend_from_slice(&text[unsearched + newline + 1..]);
                        text.truncate(unsearched + newline + 1);
                        return text;
                    }
                    None => unsearched = text.len(),
                }
            }
            let wanted = CHUNK_BYTES.saturating_sub(text.len()).max(1 << 16) as u64;
            match (&mut self.reader).take(wanted).read_to_end(&mut text) {
                Ok(0) => {
                    self.done = true;
                    return text;
                }
                Ok(_) => {}
                Err(error) => {
                    // The whole lines before the error still render; the error ends the job
                    // after them, at the line it cut.
                    let whole = memchr::memrchr(b'\n', &text).map_or(0, |newline| newline + 1);
                    text.truncate(whole);
                    let line = self.next_line + memchr::memchr_iter(b'\n', &text).count();
                    self.done = true;
                    self.failed = Some(Chunk::Failed { line, error });
                    return text;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn newlines(text: &[u8]) -> usize {
        text.iter().filter(|&&b| b == b'\n').count()
    }

    /// Hands out its bytes a few at a time, then fails if asked to.
    struct Trickle {
        bytes: Vec<u8>,
        at: usize,
        step: usize,
        fail_at_end: bool,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.at == self.bytes.len() && self.fail_at_end {
                return Err(io::Error::other("disk on fire"));
            }
            let n = self.step.min(buf.len()).min(self.bytes.len() - self.at);
            buf[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn chunks_of(bytes: Vec<u8>, step: usize, fail_at_end: bool) -> Vec<Chunk> {
        let mut chunks = Chunks::new(Box::new(Trickle {
            bytes,
            at: 0,
            step,
            fail_at_end,
        }));
        std::iter::from_fn(|| chunks.next()).collect()
    }

    /// The chunks' texts, checking that each starts at its line number and ends a line.
    fn texts_checked(chunks: Vec<Chunk>, input: &[u8]) -> Vec<Vec<u8>> {
        let mut expected_line = 1;
        let mut texts = Vec::new();
        for chunk in chunks {
            let Chunk::Lines { first_line, text } = chunk else {
                panic!("no error expected");
            };
            assert_eq!(first_line, expected_line);
            let before = &input[texts.iter().map(Vec::len).sum::<usize>()..];
            assert!(before.starts_with(&text));
            assert!(text.ends_with(b"\n") || before.len() == text.len());
            expected_line += newlines(&text);
            texts.push(text);
        }
        assert_eq!(texts.concat(), input);
        texts
    }

    #[test]
    fn chunks_hold_whole_lines_in_order_with_their_line_numbers() {
        let lines: Vec<String> = (0..200_000).map(|n| format!("line {n}\n")).collect();
        let input = lines.concat().into_bytes();
        for step in [7, 1000, 1 << 20] {
            let texts = texts_checked(chunks_of(input.clone(), step, false), &input);
            assert!(texts.len() > 1, "read {step} bytes at a time");
        }
        assert!(chunks_of(Vec::new(), 10, false).is_empty());
    }

    #[test]
    fn a_last_line_without_newline_and_a_line_longer_than_a_chunk_arrive_whole() {
        let long = "x".repeat(3 * CHUNK_BYTES);
        let input = format!("a\n{long}\nend").into_bytes();
        let texts = texts_checked(chunks_of(input.clone(), 4096, false), &input);
        assert!(texts
            .iter()
            .any(|t| t.ends_with(format!("{long}\n").as_bytes())));
        assert_eq!(texts.last().map(Vec::as_slice), Some(&b"end"[..]));
    }

    #[test]
    fn a_read_error_comes_after_the_whole_lines_read_before_it() {
        let chunks = chunks_of(b"one\ntwo\nthr".to_vec(), 3, true);
        assert_eq!(chunks.len(), 2);
        let Chunk::Lines { first_line, text } = &chunks[0] else {
            panic!("lines first");
        };
        assert_eq!((*first_line, text.as_ref()), (1, &b"one\ntwo\n"[..]));
        let Chunk::Failed { line, error } = &chunks[1] else {
            panic!("then the error");
        };
        assert_eq!((*line, error.to_string().as_str()), (3, "disk on fire"));
    }

    #[test]
    fn a_read_error_after_several_chunks_names_the_line_it_cut() {
        let lines: Vec<String> = (0..300_000).map(|n| format!("line {n}\n")).collect();
        let input = [lines.concat().as_bytes(), b"cut sho"].concat();
        let mut chunks = chunks_of(input.clone(), 1 << 16, true);
        let Some(Chunk::Failed { line, .. }) = chunks.pop() else {
            panic!("the error last");
        };
        assert_eq!(line, 300_001);
        let whole = &input[..input.len() - b"cut sho".len()];
        assert!(texts_checked(chunks, whole).len() > 1);
    }
}
