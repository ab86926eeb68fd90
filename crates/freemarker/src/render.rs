//! The interpreter: walks the compiled nodes, evaluates expressions and appends to one output `String`.
//!
//! Rendering is bounded: every node and expression evaluation costs a step, output size and call depth are
//! capped (see [`Settings`]); exceeding a limit fails the render with an [`ErrorKind::Limit`] error.

use crate::ast::*;
use crate::builtins::BuiltinId;
use crate::error::{Error, ErrorKind};
use crate::format_bridge::{
    self as fb, compile_number_format, DateFormat, DateKind, DateValue, Locale, Number,
    NumberFormat, TimeZone,
};
use crate::settings::Settings;
use crate::template::Template;
use crate::value::{Value, WithArgs};
use serde_json::Value as Json;
use std::borrow::Cow;
use std::rc::Rc;

/// How control leaves a block.
pub(crate) enum Flow<'a> {
    Normal,
    Break,
    Continue,
    Return(Option<Value<'a>>),
}

type R<T> = Result<T, Error>;

/// Most stack one render may use for nested macro/function calls (renders run on 2 MiB threads).
const STACK_BUDGET: usize = 1024 * 1024;

/// One active loop (`#list`, `#items`) or `<#nested>` loop-variable scope.
pub(crate) struct Loop<'a> {
    pub name: &'a str,
    pub value_name: Option<&'a str>,
    pub item: Option<Value<'a>>,
    pub value: Option<Value<'a>>,
    pub index: usize,
    pub has_next: bool,
    /// Loop variables bound by `<@m ; x>` instead of a real loop.
    pub is_nested_scope: bool,
}

/// A variable found by [`Env::find_var`]: a value held by the environment (`None` = null), or one
/// made for the lookup (the input, `x_index`, a macro).
enum Var<'e, 'a> {
    Held(Option<&'e Value<'a>>),
    Made(Option<Value<'a>>),
}

/// A macro/function invocation (frame 0 is the top level).
pub(crate) struct Frame<'a> {
    pub locals: Vec<(Rc<str>, Option<Value<'a>>)>,
    pub loops: Vec<Loop<'a>>,
    pub caller: usize,
    pub nested_body: Option<&'a [Node]>,
    pub nested_vars: &'a [Box<str>],
}

/// The frame stack. The top-level frame lives inline so a render that calls no macro allocates nothing here.
pub(crate) struct Frames<'a> {
    top: Frame<'a>,
    rest: Vec<Frame<'a>>,
}

impl<'a> Frames<'a> {
    fn new() -> Frames<'a> {
        Frames {
            top: Frame {
                locals: Vec::new(),
                loops: Vec::new(),
                caller: 0,
                nested_body: None,
                nested_vars: &[],
            },
            rest: Vec::new(),
        }
    }
    pub fn len(&self) -> usize {
        self.rest.len() + 1
    }
    pub fn push(&mut self, f: Frame<'a>) {
        self.rest.push(f);
    }
    pub fn truncate(&mut self, len: usize) {
        self.rest.truncate(len.saturating_sub(1));
    }
}

impl<'a> std::ops::Index<usize> for Frames<'a> {
    type Output = Frame<'a>;
    fn index(&self, i: usize) -> &Frame<'a> {
        if i == 0 {
            &self.top
        } else {
            &self.rest[i - 1]
        }
    }
}

impl<'a> std::ops::IndexMut<usize> for Frames<'a> {
    fn index_mut(&mut self, i: usize) -> &mut Frame<'a> {
        if i == 0 {
            &mut self.top
        } else {
            &mut self.rest[i - 1]
        }
    }
}

/// The state of one render.
pub(crate) struct Env<'a> {
    pub tpl: &'a Template,
    pub input: &'a Json,
    pub settings: Cow<'a, Settings>,
    pub number_format: Cow<'a, NumberFormat>,
    pub locale: Cow<'a, Locale>,
    pub time_zone: Cow<'a, TimeZone>,
    pub out: String,
    pub namespace: Vec<(Rc<str>, Value<'a>)>,
    pub globals: Vec<(Rc<str>, Value<'a>)>,
    pub frames: Frames<'a>,
    pub cur: usize,
    /// Sequences listed by `<#list xs>` waiting for their `<#items>`.
    pub pending_items: Vec<Value<'a>>,
    /// Messages of the errors the enclosing `<#recover>` blocks are handling (innermost last), for `.error`.
    recovered: Vec<Rc<str>>,
    steps: u64,
    depth: usize,
    /// The built-in whose arguments are being evaluated (named in argument errors).
    pub current_builtin: &'a str,
    /// Address of a local at the start of the render, to measure stack use.
    stack_base: usize,
    /// Copies of the limits (read on every step).
    max_steps: u64,
    max_output: usize,
    /// Bytes of values built so far (see [`Env::charge`]).
    allocated: usize,
    /// Where each stretch of the output was written from, when asked ([`Template::render_traced`]).
    pub trace: Option<Vec<Write>>,
    /// How many captures (`<#assign x>...`, `<#compress>`, `"${...}"`) the output is diverted into:
    /// their writes do not land in the output where they happen, so they are not traced.
    diverted: u32,
}

/// One traced write: the output offset it started at, the source offset of the node that made
/// it, and whether that node is static text.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Write {
    pub output: usize,
    pub source: u32,
    pub text: bool,
}

/// Marks an error as FreeMarker's "InvalidReferenceException" (a missing value), which `!`/`??` on a
/// parenthesized expression swallow.
pub(crate) fn missing_err(src: &str, span: Span) -> Error {
    let text = span_text(src, span);
    crate::error::render_err("The following has evaluated to null or missing:")
        .with_detail(format!("==> {text}"))
        .with_offset(span.start as usize)
        .into_missing()
}

pub(crate) fn span_text(src: &str, span: Span) -> &str {
    src.get(span.start as usize..span.end as usize)
        .unwrap_or("?")
}

impl<'a> Env<'a> {
    pub fn new(tpl: &'a Template, input: &'a Json, out: String) -> Env<'a> {
        Env {
            tpl,
            input,
            settings: Cow::Borrowed(&tpl.settings),
            number_format: Cow::Borrowed(&tpl.number_format),
            locale: Cow::Borrowed(&tpl.locale),
            time_zone: Cow::Borrowed(&tpl.time_zone),
            out,
            namespace: Vec::new(),
            globals: Vec::new(),
            frames: Frames::new(),
            cur: 0,
            pending_items: Vec::new(),
            recovered: Vec::new(),
            steps: 0,
            depth: 0,
            current_builtin: "",
            stack_base: {
                let here = 0u8;
                &here as *const u8 as usize
            },
            max_steps: tpl.settings.max_steps,
            max_output: tpl.settings.max_output_bytes,
            allocated: 0,
            trace: None,
            diverted: 0,
        }
    }

    pub fn src(&self) -> &'a str {
        &self.tpl.source
    }

    /// An error located at `span`.
    pub fn err(&self, span: Span, msg: impl Into<String>) -> Error {
        crate::error::render_err(msg).with_offset(span.start as usize)
    }

    #[inline]
    pub fn step(&mut self) -> R<()> {
        self.steps += 1;
        if self.steps > self.max_steps {
            return Err(Error::new(
                ErrorKind::Limit,
                format!(
                    "Rendering exceeded the limit of {} steps",
                    self.settings.max_steps
                ),
            ));
        }
        Ok(())
    }

    /// Records that the node at `source` starts writing here (when tracing).
    #[inline]
    fn trace_write(&mut self, source: u32, text: bool) {
        if let Some(trace) = &mut self.trace {
            if self.diverted == 0 {
                let output = self.out.len();
                trace.push(Write {
                    output,
                    source,
                    text,
                });
            }
        }
    }

    /// Drops output written after `len` (a failed `<#attempt>`, a function's output), and its
    /// traced writes.
    pub fn truncate_out(&mut self, len: usize) {
        self.out.truncate(len);
        if let Some(trace) = &mut self.trace {
            if self.diverted == 0 {
                while trace.last().is_some_and(|w| w.output >= len) {
                    trace.pop();
                }
            }
        }
    }

    /// Counts `n` steps at once: a built-in that walks a sequence (`?join`, `?seq_contains`,
    /// `?sort`, ...) does one step's work per item, as `<#list>` does.
    #[inline]
    pub fn steps_for(&mut self, n: usize) -> R<()> {
        self.steps = self.steps.saturating_add(n as u64 - n.min(1) as u64);
        self.step()
    }

    /// Counts `bytes` of a value built by this render against `max_alloc_bytes`. The count is
    /// cumulative (values are reference counted, so what is still alive is not known): a template
    /// that builds its payload once stays far below it, one that grows a value without bound fails
    /// fast.
    #[inline]
    pub fn charge(&mut self, bytes: usize) -> R<()> {
        self.fits(bytes)?;
        self.allocated += bytes;
        Ok(())
    }

    /// Fails, before anything is allocated, when building `bytes` more would pass the limit.
    #[inline]
    pub fn fits(&self, bytes: usize) -> R<()> {
        if self.allocated.saturating_add(bytes) > self.settings.max_alloc_bytes {
            return Err(Error::new(
                ErrorKind::Limit,
                format!(
                    "Rendering exceeded the memory limit of {} bytes (strings, sequences and hashes built)",
                    self.settings.max_alloc_bytes
                ),
            ));
        }
        Ok(())
    }

    #[inline]
    fn check_output(&self) -> R<()> {
        if self.out.len() > self.max_output {
            return Err(Error::new(
                ErrorKind::Limit,
                format!(
                    "Rendering exceeded the output limit of {} bytes",
                    self.settings.max_output_bytes
                ),
            ));
        }
        Ok(())
    }

    fn enter(&mut self, span: Span) -> R<()> {
        self.depth += 1;
        // Besides the configured depth, never use more than STACK_BUDGET bytes of the thread's stack
        // (a debug build needs ~12 KiB per macro level, a release build ~2.5 KiB).
        let here = 0u8;
        let used = self.stack_base.abs_diff(&here as *const u8 as usize);
        if used > STACK_BUDGET {
            return Err(Error::new(
                ErrorKind::Limit,
                format!(
                    "Rendering exceeded the nesting depth limit (call depth {})",
                    self.depth
                ),
            )
            .with_offset(span.start as usize));
        }
        if self.depth > self.settings.max_depth {
            return Err(Error::new(
                ErrorKind::Limit,
                format!(
                    "Rendering exceeded the nesting depth limit of {}",
                    self.settings.max_depth
                ),
            )
            .with_offset(span.start as usize));
        }
        Ok(())
    }

    // ----- directives -----

    pub fn run_nodes(&mut self, nodes: &'a [Node]) -> R<Flow<'a>> {
        for node in nodes {
            // static text is the most common node: append it without the general dispatch
            if let Node::Text(t, at) = node {
                self.trace_write(*at, true);
                self.out.push_str(t);
                self.check_output()?;
                continue;
            }
            match self.run_node(node)? {
                Flow::Normal => {}
                other => return Ok(other),
            }
        }
        Ok(Flow::Normal)
    }

    fn run_node(&mut self, node: &'a Node) -> R<Flow<'a>> {
        self.step()?;
        match node {
            Node::Text(t, at) => {
                self.trace_write(*at, true);
                self.out.push_str(t);
                self.check_output()?;
            }
            Node::Interp(e) => {
                self.trace_write(e.span.start, false);
                self.write_interp(e)?;
                self.check_output()?;
            }
            Node::LegacyInterp { expr, frac } => {
                self.trace_write(expr.span.start, false);
                let v = self.eval_required(expr)?;
                let Value::Num(n) = v else {
                    return Err(self.err(
                        expr.span,
                        format!("For \"#{{...}}\" content: Expected a number, but this has evaluated to {}:", v.describe()),
                    ));
                };
                let (min, max) = frac.unwrap_or((0, 50));
                let pattern = format!(
                    "0{}{}{}",
                    if max > 0 { "." } else { "" },
                    "0".repeat(min),
                    "#".repeat(max.saturating_sub(min))
                );
                let s = self
                    .tpl
                    .format_number_with(&pattern, &self.settings.locale, &n)
                    .map_err(|m| self.err(expr.span, m))?;
                self.out.push_str(&s);
                self.check_output()?;
            }
            Node::If(branches) => {
                for (i, b) in branches.iter().enumerate() {
                    let ctx = if i == 0 {
                        "For \"#if\" condition: "
                    } else {
                        "For \"#elseif\" condition: "
                    };
                    let take = match &b.cond {
                        Some(c) => self.eval_bool_in(c, ctx)?,
                        None => true,
                    };
                    if take {
                        return self.run_nodes(&b.body);
                    }
                }
            }
            Node::List {
                seq,
                vars,
                body,
                else_body,
                span,
            } => return self.run_list(seq, vars.as_ref(), body, else_body.as_deref(), *span),
            Node::Items { vars, body, span } => {
                let Some(seq) = self.pending_items.pop() else {
                    return Err(self.err(*span, "#items must be inside a #list block."));
                };
                let r = self.iterate(&seq, vars, body, *span);
                self.pending_items.push(seq);
                r?;
            }
            Node::Sep(body) => {
                let has_next = self.frames[self.cur]
                    .loops
                    .iter()
                    .rev()
                    .find(|l| !l.is_nested_scope)
                    .is_some_and(|l| l.has_next);
                if has_next {
                    return self.run_nodes(body);
                }
            }
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
            Node::Switch { value, cases } => return self.run_switch(value, cases),
            Node::Assign { scope, items } => {
                for a in items {
                    self.run_assign(*scope, a)?;
                }
            }
            Node::Capture { scope, name, body } => {
                let saved = std::mem::take(&mut self.out);
                self.diverted += 1;
                let r = self.run_nodes(body);
                self.diverted -= 1;
                let captured = std::mem::replace(&mut self.out, saved);
                r?;
                self.set_var(*scope, name, Some(Value::string(captured)), Span::default())?;
            }
            Node::Setting { name, value, span } => {
                let v = self.eval_required(value)?;
                let s = match &v {
                    Value::Str(s) => s.to_string(),
                    Value::String(s) => s.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Num(n) => fb::format_c(n),
                    other => {
                        return Err(self.err(
                            *span,
                            format!(
                                "Setting value must be a string, but it is {}",
                                other.describe()
                            ),
                        ))
                    }
                };
                let mut settings = self.settings.clone().into_owned();
                settings.set_from_template(name, &s).map_err(|e| {
                    crate::error::render_err(format!(
                        "Failed to set FreeMarker configuration setting {:?} to value {:?}; see cause exception.",
                        &**name, s
                    ))
                    .with_detail(e.message().to_string())
                    .with_offset(span.start as usize)
                })?;
                if settings.number_format != self.settings.number_format
                    || settings.locale != self.settings.locale
                {
                    let nf = compile_number_format(&settings.number_format, &settings.locale)
                        .map_err(|m| self.err(*span, m))?;
                    self.number_format = Cow::Owned(nf);
                }
                if settings.locale != self.settings.locale {
                    let loc = Locale::parse(&settings.locale)
                        .map_err(|e| self.err(*span, e.to_string()))?;
                    self.locale = Cow::Owned(loc);
                }
                if settings.time_zone != self.settings.time_zone {
                    let tz = TimeZone::parse(&settings.time_zone)
                        .map_err(|e| self.err(*span, e.to_string()))?;
                    self.time_zone = Cow::Owned(tz);
                }
                self.settings = Cow::Owned(settings);
            }
            Node::Attempt { body, recover } => {
                let saved_len = self.out.len();
                let saved_frames = (self.cur, self.frames.len(), self.pending_items.len());
                let loops_len = self.frames[self.cur].loops.len();
                match self.run_nodes(body) {
                    Ok(flow) => return Ok(flow),
                    Err(e) if e.kind() == ErrorKind::Limit => return Err(e),
                    Err(e) => {
                        self.truncate_out(saved_len);
                        self.cur = saved_frames.0;
                        self.frames.truncate(saved_frames.1);
                        self.pending_items.truncate(saved_frames.2);
                        self.frames[self.cur].loops.truncate(loops_len);
                        self.recovered.push(self.recovered_message(e).into());
                        let flow = self.run_nodes(recover);
                        self.recovered.pop();
                        return flow;
                    }
                }
            }
            // Running a `<#macro>` (re)binds its name: a call before it gets the template's last
            // definition (known from parsing), a call after it this one, as in FreeMarker.
            Node::MacroDef(def) => self.define_macro(def),
            Node::Nested { args, span } => self.run_nested(args, *span)?,
            Node::Return(v) => {
                let value = match v {
                    Some(e) => Some(self.eval_required(e)?),
                    None => None,
                };
                return Ok(Flow::Return(value));
            }
            Node::Call {
                callee,
                named,
                positional,
                loop_vars,
                body,
                span,
            } => self.run_call(
                callee,
                named,
                positional,
                loop_vars,
                body.as_deref().map(|b| b.as_slice()),
                *span,
            )?,
            Node::Compress(body) => {
                let saved = std::mem::take(&mut self.out);
                self.diverted += 1;
                let r = self.run_nodes(body);
                self.diverted -= 1;
                let captured = std::mem::replace(&mut self.out, saved);
                let flow = r?;
                compress_into(&captured, &mut self.out);
                return Ok(flow);
            }
            Node::Stop(msg, span) => {
                let m = match msg {
                    Some(e) => self.eval_string(e)?.to_string(),
                    None => String::new(),
                };
                // FreeMarker's message is the given text alone.
                let text = if m.is_empty() {
                    "[No error description was available.]".to_string()
                } else {
                    m
                };
                return Err(self.err(*span, text));
            }
        }
        Ok(Flow::Normal)
    }

    fn run_list(
        &mut self,
        seq_e: &'a Expr,
        vars: Option<&'a LoopVars>,
        body: &'a [Node],
        else_body: Option<&'a [Node]>,
        span: Span,
    ) -> R<Flow<'a>> {
        let seq = match self.eval(seq_e)? {
            Some(v) => v,
            None if self.settings.classic_compatible => Value::Seq(Rc::new(Vec::new())),
            None => return Err(missing_err(self.src(), seq_e.span)),
        };
        let empty = match &seq {
            v if v.is_seq() => v.seq_len() == Some(0),
            v if v.is_hash() => v.hash_len() == 0,
            other => {
                return Err(self.err(
                    seq_e.span,
                    format!(
                        "For \"#list\" list source: Expected a sequence or collection, but this has evaluated to {}:",
                        other.describe()
                    ),
                ))
            }
        };
        if empty {
            return match else_body {
                Some(b) => self.run_nodes(b),
                None => Ok(Flow::Normal),
            };
        }
        match vars {
            Some(v) => {
                self.iterate(&seq, v, body, span)?;
                Ok(Flow::Normal)
            }
            None => {
                self.pending_items.push(seq);
                let r = self.run_nodes(body);
                self.pending_items.pop();
                match r? {
                    Flow::Break | Flow::Continue | Flow::Normal => Ok(Flow::Normal),
                    other => Ok(other),
                }
            }
        }
    }

    fn iterate(
        &mut self,
        seq: &Value<'a>,
        vars: &'a LoopVars,
        body: &'a [Node],
        span: Span,
    ) -> R<()> {
        let frame = self.cur;
        if seq.is_hash() {
            let Some(value_name) = vars.value.as_deref() else {
                return Err(self.err(span, format!("The value you try to list is {}, thus you must specify two loop variables after the \"as\"; one for the key, and another for the value, like <#... as k, v>).", seq.describe())));
            };
            let keys = seq.hash_keys();
            let values = seq.hash_values();
            let n = keys.len();
            self.frames[frame].loops.push(Loop {
                name: &vars.first,
                value_name: Some(value_name),
                item: None,
                value: None,
                index: 0,
                has_next: false,
                is_nested_scope: false,
            });
            let mut result = Ok(());
            for (i, (k, v)) in keys.into_iter().zip(values).enumerate() {
                // One step per iteration: an empty body would otherwise loop unmetered.
                if let Err(e) = self.step() {
                    result = Err(e);
                    break;
                }
                if let Some(l) = self.frames[frame].loops.last_mut() {
                    l.item = Some(k);
                    l.value = v;
                    l.index = i;
                    l.has_next = i + 1 < n;
                }
                match self.run_nodes(body) {
                    Ok(Flow::Break) => break,
                    Ok(Flow::Return(_)) => break,
                    Ok(_) => {}
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            self.frames[frame].loops.pop();
            return result;
        }
        if vars.value.is_some() {
            return Err(self.err(span, format!("The value you try to list is {}, thus you must specify only one loop variable after the \"as\" (there's no separate key and value).", seq.describe())));
        }
        let len = seq.seq_len();
        self.frames[frame].loops.push(Loop {
            name: &vars.first,
            value_name: None,
            item: None,
            value: None,
            index: 0,
            has_next: false,
            is_nested_scope: false,
        });
        let mut result = Ok(());
        let mut i = 0usize;
        loop {
            if len.is_some_and(|l| i >= l) {
                break;
            }
            let Some(item) = seq.seq_get(i) else { break };
            // One step per iteration: an empty body would otherwise loop unmetered.
            if let Err(e) = self.step() {
                result = Err(e);
                break;
            }
            if let Some(l) = self.frames[frame].loops.last_mut() {
                l.item = item;
                l.index = i;
                l.has_next = len.is_none_or(|l| i + 1 < l);
            }
            match self.run_nodes(body) {
                Ok(Flow::Break) => break,
                Ok(Flow::Return(_)) => break,
                Ok(_) => {}
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
            i += 1;
        }
        self.frames[frame].loops.pop();
        result
    }

    /// `#switch`: runs from the first matching `#case` on (falling through until `#break`); `#default`
    /// runs alone when nothing matched.
    fn run_switch(
        &mut self,
        value: &'a Expr,
        cases: &'a [(Option<Expr>, Vec<Node>)],
    ) -> R<Flow<'a>> {
        let v = self.eval_required(value)?;
        let mut processing = false;
        for (case, body) in cases {
            if !processing {
                if let Some(c) = case {
                    let cv = self.eval_required(c)?;
                    processing = self.values_equal(&v, &cv, c.span, "==")?;
                }
            }
            if processing {
                match self.run_nodes(body)? {
                    Flow::Break => return Ok(Flow::Normal),
                    Flow::Normal => {}
                    other => return Ok(other),
                }
            }
        }
        if !processing {
            if let Some((_, body)) = cases.iter().find(|(c, _)| c.is_none()) {
                return match self.run_nodes(body)? {
                    Flow::Break => Ok(Flow::Normal),
                    other => Ok(other),
                };
            }
        }
        Ok(Flow::Normal)
    }

    fn run_assign(&mut self, scope: Scope, a: &'a Assignment) -> R<()> {
        let new = match a.op {
            AssignOp::Set => self.eval(
                a.value
                    .as_ref()
                    .ok_or_else(|| self.err(a.span, "Missing value"))?,
            )?,
            op => {
                let old = self.lookup_scoped(scope, &a.name).ok_or_else(|| {
                    let sym = match op {
                        AssignOp::Add => "+=",
                        AssignOp::Sub => "-=",
                        AssignOp::Mul => "*=",
                        AssignOp::Div => "/=",
                        AssignOp::Rem => "%=",
                        AssignOp::Inc => "++",
                        _ => "--",
                    };
                    let ns = if scope == Scope::Local { "local scope" } else { "template namespace" };
                    self.err(a.span, format!(
                        "The target variable of the assignment, {:?}, was null or missing in the {ns}, and the {sym:?} operator must get its value from there before assigning to it.",
                        &*a.name
                    ))
                })?;
                match op {
                    AssignOp::Inc | AssignOp::Dec => {
                        let Value::Num(n) = old else {
                            return Err(self.err(
                                a.span,
                                format!(
                                    "Expected a number, but assignment target variable {:?} has evaluated to {}.",
                                    &*a.name,
                                    old.describe()
                                ),
                            ));
                        };
                        let one = Number::from_i64(1);
                        let r = if op == AssignOp::Inc {
                            n.add(&one)
                        } else {
                            n.sub(&one)
                        };
                        Some(Value::Num(r.map_err(|e| self.err(a.span, e.to_string()))?))
                    }
                    _ => {
                        let rhs_e = a
                            .value
                            .as_ref()
                            .ok_or_else(|| self.err(a.span, "Missing value"))?;
                        let rhs = self.eval_required(rhs_e)?;
                        let bop = match op {
                            AssignOp::Add => BinOp::Add,
                            AssignOp::Sub => BinOp::Sub,
                            AssignOp::Mul => BinOp::Mul,
                            AssignOp::Div => BinOp::Div,
                            _ => BinOp::Rem,
                        };
                        Some(self.arith(bop, old, rhs, a.span, a.span, rhs_e.span)?)
                    }
                }
            }
        };
        if new.is_none() {
            if let Some(e) = &a.value {
                return Err(missing_err(self.src(), e.span));
            }
        }
        self.set_var(scope, &a.name, new, a.span)
    }

    fn lookup_scoped(&self, scope: Scope, name: &str) -> Option<Value<'a>> {
        match scope {
            Scope::Local => self.frames[self.cur]
                .locals
                .iter()
                .rev()
                .find(|(k, _)| &**k == name)
                .and_then(|(_, v)| v.clone()),
            _ => self.lookup(name),
        }
    }

    /// Binds a macro's name to it in the namespace (kept out of line: the render loop's hot
    /// arms inline better without it).
    #[inline(never)]
    fn define_macro(&mut self, def: &'a MacroDef) {
        let value = Value::Macro(def, None);
        match self
            .namespace
            .iter_mut()
            .find(|(k, _)| same_name(k, &def.name))
        {
            Some(slot) => slot.1 = value,
            None => self.namespace.push((def.name.as_ref().into(), value)),
        }
    }

    pub fn set_var(&mut self, scope: Scope, name: &str, v: Option<Value<'a>>, span: Span) -> R<()> {
        let Some(v) = v else {
            return Err(self.err(span, "The following has evaluated to null or missing:"));
        };
        let target = match scope {
            Scope::Namespace => &mut self.namespace,
            Scope::Global => &mut self.globals,
            Scope::Local => {
                let f = &mut self.frames[self.cur];
                if let Some(slot) = f.locals.iter_mut().find(|(k, _)| same_name(k, name)) {
                    slot.1 = Some(v);
                } else {
                    f.locals.push((name.into(), Some(v)));
                }
                return Ok(());
            }
        };
        if let Some(slot) = target.iter_mut().find(|(k, _)| same_name(k, name)) {
            slot.1 = v;
        } else {
            target.push((name.into(), v));
        }
        Ok(())
    }

    /// Resolves a variable name: loop variables, macro locals, `#assign`ed, `#global`, then the data model.
    pub fn lookup(&self, name: &str) -> Option<Value<'a>> {
        match self.find_var(name) {
            Var::Held(v) => v.cloned(),
            Var::Made(v) => v,
        }
    }

    /// [`Env::lookup`] without copying the value out (for the JSON path shortcut).
    fn find_var(&self, name: &str) -> Var<'_, 'a> {
        // fast path: nothing can shadow the data model
        if name == "input" && self.nothing_shadows_input() {
            return Var::Made(Value::from_json(self.input));
        }
        let f = &self.frames[self.cur];
        for l in f.loops.iter().rev() {
            if same_name(l.name, name) {
                return Var::Held(l.item.as_ref());
            }
            if l.value_name.is_some_and(|v| same_name(v, name)) {
                return Var::Held(l.value.as_ref());
            }
        }
        if let Some((_, v)) = f.locals.iter().rev().find(|(k, _)| same_name(k, name)) {
            return Var::Held(v.as_ref());
        }
        // the legacy `x_index` / `x_has_next` loop variables
        if name.ends_with("_index") || name.ends_with("_has_next") {
            for l in f.loops.iter().rev().filter(|l| !l.is_nested_scope) {
                if name.strip_suffix("_index") == Some(l.name) {
                    return Var::Made(Some(Value::Num(Number::from_i64(l.index as i64))));
                }
                if name.strip_suffix("_has_next") == Some(l.name) {
                    return Var::Made(Some(Value::Bool(l.has_next)));
                }
            }
        }
        if let Some((_, v)) = self.namespace.iter().find(|(k, _)| same_name(k, name)) {
            return Var::Held(Some(v));
        }
        if let Some((_, v)) = self.globals.iter().find(|(k, _)| same_name(k, name)) {
            return Var::Held(Some(v));
        }
        if name == "input" {
            return Var::Made(Value::from_json(self.input));
        }
        if let Some(m) = self.tpl.macros.iter().find(|m| &*m.name == name) {
            return Var::Made(Some(Value::Macro(m, None)));
        }
        Var::Made(None)
    }

    /// Whether `name` is a loop variable visible right now (and its loop state).
    pub fn find_loop(&self, name: &str) -> Option<&Loop<'a>> {
        self.frames[self.cur]
            .loops
            .iter()
            .rev()
            .find(|l| l.name == name && !l.is_nested_scope)
    }

    fn run_call(
        &mut self,
        callee: &'a Expr,
        named: &'a [(Box<str>, Expr)],
        positional: &'a [Expr],
        loop_vars: &'a [Box<str>],
        body: Option<&'a [Node]>,
        span: Span,
    ) -> R<()> {
        let (m, with) = match self.eval(callee)? {
            Some(Value::Macro(m, with)) => (m, with),
            Some(other) => {
                return Err(self.err(
                    callee.span,
                    format!("For \"@\" callee: Expected a(n) user-defined directive, transform or macro, but this has evaluated to {}:", other.describe()),
                ))
            }
            None => return Err(missing_err(self.src(), callee.span)),
        };
        if m.is_function {
            return Err(self.err(callee.span, format!(
                "Routine {:?} is a function, not a directive. Functions can only be called from expressions, like in ${{{}()}}, ${{x + {}()}} or <@someDirective someParam={}() />.",
                &*m.name, &*m.name, &*m.name, &*m.name
            )));
        }
        let with = with.as_deref();
        let values = self.positional_args(m, with, positional, span)?;
        let given = values.len();
        let (positional, rest) = bind_positional(m, values);
        // the call's own arguments, positional or named, win over `?with_args`' named ones
        let mut locals = Vec::with_capacity(m.params.len() + 1);
        let mut rest_named = Vec::new();
        for (name, v) in with.map_or(&[][..], |w| &w.named) {
            let (name, v) = (name.clone(), v.clone());
            self.bind_named(m, &mut locals, &mut rest_named, name, v, span)?;
        }
        for (name, v) in positional {
            self.bind_named(m, &mut locals, &mut rest_named, name, v, span)?;
        }
        for (name, e) in named {
            let v = self.eval(e)?;
            self.bind_named(
                m,
                &mut locals,
                &mut rest_named,
                name.as_ref().into(),
                v,
                span,
            )?;
        }
        if let Some(c) = &m.catch_all {
            // the extra arguments: a sequence after positional ones, else a hash of named ones
            let extra = if given > 0 {
                Value::Seq(Rc::new(rest))
            } else {
                Value::Hash(Rc::new(rest_named))
            };
            locals.push((c.as_ref().into(), Some(extra)));
        }
        self.invoke(m, locals, body, loop_vars, span)?;
        Ok(())
    }

    /// The positional arguments of a call, `?with_args`' before (or after) the call's own,
    /// evaluated in order once their number is known to fit.
    fn positional_args(
        &mut self,
        m: &'a MacroDef,
        with: Option<&WithArgs<'a>>,
        positional: &'a [Expr],
        span: Span,
    ) -> R<Vec<Option<Value<'a>>>> {
        let bound = with.map_or(&[][..], |w| &w.positional);
        let given = bound.len() + positional.len();
        if given > m.params.len() && m.catch_all.is_none() {
            return Err(self.err(
                span,
                format!(
                    "{} {:?} only accepts {} parameters, but got {}.",
                    if m.is_function { "Function" } else { "Macro" },
                    &*m.name,
                    m.params.len(),
                    given
                ),
            ));
        }
        let last = with.is_some_and(|w| w.last);
        let mut values = Vec::with_capacity(given);
        if !last {
            values.extend_from_slice(bound);
        }
        for e in positional {
            values.push(self.eval(e)?);
        }
        if last {
            values.extend_from_slice(bound);
        }
        Ok(values)
    }

    /// Binds a named argument over what is bound already; an unknown name goes to the
    /// catch-all parameter, or fails the call.
    fn bind_named(
        &self,
        m: &'a MacroDef,
        locals: &mut Vec<(Rc<str>, Option<Value<'a>>)>,
        rest: &mut Vec<(Rc<str>, Value<'a>)>,
        name: Rc<str>,
        v: Option<Value<'a>>,
        span: Span,
    ) -> R<()> {
        if m.params.iter().any(|(p, _)| **p == *name) {
            match locals.iter_mut().find(|(k, _)| *k == name) {
                Some(slot) => slot.1 = v,
                None => locals.push((name, v)),
            }
        } else if m.catch_all.is_some() {
            if let Some(v) = v {
                rest.retain(|(k, _)| *k != name);
                rest.push((name, v));
            }
        } else {
            return Err(self.err(
                span,
                format!(
                    "Macro {:?} has no parameter with name {:?}. Valid parameter names are: {}",
                    &*m.name,
                    &*name,
                    m.params
                        .iter()
                        .map(|(p, _)| &**p)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        Ok(())
    }

    /// Runs a macro or function body in a new frame; fills in parameter defaults.
    pub fn invoke(
        &mut self,
        m: &'a MacroDef,
        mut locals: Vec<(Rc<str>, Option<Value<'a>>)>,
        body: Option<&'a [Node]>,
        loop_vars: &'a [Box<str>],
        span: Span,
    ) -> R<Option<Value<'a>>> {
        self.enter(span)?;
        let caller = self.cur;
        self.frames.push(Frame {
            locals: Vec::new(),
            loops: Vec::new(),
            caller,
            nested_body: body,
            nested_vars: loop_vars,
        });
        let idx = self.frames.len() - 1;
        self.cur = idx;
        let result = (|| {
            // defaults are evaluated in the macro's own frame, in order, so they can see earlier parameters
            for (name, default) in &m.params {
                let given = locals.iter().position(|(k, _)| **k == **name);
                let v = match given {
                    Some(i) => locals[i].1.take(),
                    None => None,
                };
                let v = match (v, default) {
                    (Some(v), _) => Some(v),
                    (None, Some(d)) => self.eval(d)?,
                    (None, None) => {
                        return Err(self.err(
                            span,
                            format!(
                            "When calling {} {:?}, required parameter {:?} (parameter #{}) was {}.",
                            if m.is_function { "function" } else { "macro" },
                            &*m.name,
                            &**name,
                            m.params.iter().position(|(p, _)| p == name).unwrap_or(0) + 1,
                            if given.is_some() {
                                "specified, but had null/missing value"
                            } else {
                                "not specified"
                            }
                        ),
                        ))
                    }
                };
                self.frames[idx].locals.push((name.as_ref().into(), v));
            }
            if let Some(c) = &m.catch_all {
                let v = locals
                    .iter_mut()
                    .find(|(k, _)| **k == **c)
                    .and_then(|(_, v)| v.take());
                self.frames[idx].locals.push((
                    c.as_ref().into(),
                    v.or_else(|| Some(Value::Seq(Rc::new(Vec::new())))),
                ));
            }
            match self.run_nodes(&m.body)? {
                Flow::Return(v) => Ok(v),
                _ => Ok(None),
            }
        })();
        self.frames.truncate(idx);
        self.cur = caller;
        self.depth -= 1;
        result
    }

    fn run_nested(&mut self, args: &'a [Expr], span: Span) -> R<()> {
        let me = self.cur;
        let Some(body) = self.frames[me].nested_body else {
            return Ok(());
        };
        let names = self.frames[me].nested_vars;
        let mut values = Vec::with_capacity(args.len());
        for a in args {
            values.push(self.eval(a)?);
        }
        self.enter(span)?;
        let caller = self.frames[me].caller;
        self.cur = caller;
        let pushed = !names.is_empty();
        if pushed {
            for (i, name) in names.iter().enumerate() {
                self.frames[caller].loops.push(Loop {
                    name,
                    value_name: None,
                    item: values.get(i).cloned().flatten(),
                    value: None,
                    index: 0,
                    has_next: false,
                    is_nested_scope: true,
                });
            }
        }
        let r = self.run_nodes(body);
        if pushed {
            let n = self.frames[caller].loops.len();
            self.frames[caller]
                .loops
                .truncate(n.saturating_sub(names.len()));
        }
        self.cur = me;
        self.depth -= 1;
        r.map(|_| ())
    }

    // ----- output -----

    /// `${e}`: what `eval` + [`Env::write_value`] do, with the common forms written straight into
    /// the output: `${input.a.b}` and `${input.a.b!default}` from the JSON (no intermediate
    /// `Value`), and `${x?json_string}`, `${n?c}`, `${n?string("0.00")}` without building the
    /// result string as a value. Steps are counted as the general evaluation counts them.
    fn write_interp(&mut self, e: &'a Expr) -> R<()> {
        match &e.kind {
            ExprKind::Path { root, steps, .. } => {
                self.step()?;
                if let Some(found) = self.json_path(root, steps) {
                    return self.write_json(found, e);
                }
                let v = self.eval_path_general(e)?;
                self.write_value(v, e, "${...}")
            }
            ExprKind::Default(l, r) => {
                let ExprKind::Path { root, steps, .. } = &l.kind else {
                    let v = self.eval(e)?;
                    return self.write_value(v, e, "${...}");
                };
                self.step()?;
                self.step()?;
                let found = match self.json_path(root, steps) {
                    Some(found) => found,
                    None => match self.eval_path_general(l)? {
                        Some(v) => return self.write_value(Some(v), e, "${...}"),
                        None => None,
                    },
                };
                match (found, r) {
                    (Some(j), _) => self.write_json(Some(j), e),
                    (None, None) => Ok(()),
                    (None, Some(r)) => {
                        let v = self.eval(r)?;
                        self.write_value(v, e, "${...}")
                    }
                }
            }
            ExprKind::Builtin {
                target,
                id: id @ (BuiltinId::JsonString | BuiltinId::C | BuiltinId::String),
                name,
                args,
            } if args.is_none()
                || (*id == BuiltinId::String && args.as_ref().is_some_and(|a| a.len() == 1)) =>
            {
                self.step()?;
                let t = self.eval(target)?;
                match (id, &t, args.as_deref()) {
                    (BuiltinId::String, Some(Value::Num(n)), Some(a)) => {
                        self.current_builtin = name;
                        let f = self.arg_str(a, 0)?;
                        if fb::format_fixed_into(&f, &self.settings.locale, n, &mut self.out) {
                            return Ok(());
                        }
                        let s = self
                            .tpl
                            .format_number_with(&f, &self.settings.locale, n)
                            .map_err(|m| self.err(e.span, m))?;
                        self.out.push_str(&s);
                        Ok(())
                    }
                    (BuiltinId::JsonString, Some(Value::Str(s)), None) => {
                        fb::json_string(s, &mut self.out);
                        Ok(())
                    }
                    (BuiltinId::JsonString, Some(Value::String(s)), None) => {
                        fb::json_string(s, &mut self.out);
                        Ok(())
                    }
                    (BuiltinId::C, Some(Value::Num(n)), None) => {
                        fb::write_c(n, &mut self.out);
                        Ok(())
                    }
                    _ => {
                        let v =
                            self.apply_builtin(t, target, *id, name, args.as_deref(), e.span)?;
                        self.write_value(v, e, "${...}")
                    }
                }
            }
            _ => {
                let v = self.eval(e)?;
                self.write_value(v, e, "${...}")
            }
        }
    }

    /// Appends a JSON value (`None` = missing) as `${...}` prints it.
    #[inline]
    fn write_json(&mut self, j: Option<&'a Json>, e: &Expr) -> R<()> {
        match j {
            Some(Json::String(s)) => {
                self.out.push_str(s);
                Ok(())
            }
            Some(j) => self.write_value(Value::from_json(j), e, "${...}"),
            None => self.write_value(None, e, "${...}"),
        }
    }

    /// Appends a value as `${...}` would print it.
    fn write_value(&mut self, v: Option<Value<'a>>, e: &Expr, ctx: &str) -> R<()> {
        let Some(v) = v else {
            if self.settings.classic_compatible {
                return Ok(());
            }
            return Err(missing_err(self.src(), e.span));
        };
        match v {
            Value::Str(s) => self.out.push_str(s),
            Value::String(s) => self.out.push_str(&s),
            Value::Num(n) => {
                if self.computer_format() {
                    fb::write_c(&n, &mut self.out);
                } else {
                    let s = self.number_format.format(&n);
                    self.out.push_str(&s)
                }
            }
            Value::Bool(b) => {
                let s = self.format_bool(b, e.span)?;
                self.out.push_str(&s);
            }
            Value::Date(d) => {
                let s = self.format_date(d, None, e.span)?;
                self.out.push_str(&s);
            }
            other => {
                if self.settings.classic_compatible && other.is_seq() {
                    // classic mode prints nothing useful for containers either
                }
                return Err(self.err(
                    e.span,
                    format!(
                        "For \"{ctx}\" content: Expected a string or something automatically convertible to string (number, date or boolean), or \"template output\" , but this has evaluated to {}:",
                        other.describe()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Whether numbers print with the `computer` format (the sink's setting), which
    /// [`fb::write_c`] writes without building a string first.
    #[inline]
    fn computer_format(&self) -> bool {
        self.settings.number_format == "computer"
    }

    /// Formats a date by `spec` or, without one, by the `date_format`/`time_format`/`datetime_format` setting.
    pub fn format_date(&self, d: DateValue, spec: Option<&str>, span: Span) -> R<String> {
        let setting = match d.kind {
            DateKind::Date => &self.settings.date_format,
            DateKind::Time => &self.settings.time_format,
            DateKind::DateTime => &self.settings.datetime_format,
            DateKind::Unknown => {
                if spec.is_none() || matches!(spec, Some("short" | "medium" | "long" | "full")) {
                    return Err(self.err(span, "Can't convert the date to string, because it is not known which parts of the date variable are in use. Use ?date, ?time, or ?datetime built-in, or ?string.<format> or ?string(<format>) built-in with this date."));
                }
                &self.settings.datetime_format
            }
        };
        let spec = spec.unwrap_or(setting);
        let f = DateFormat::new(spec, d.kind, &self.locale)
            .map_err(|e| self.err(span, e.to_string()))?;
        Ok(f.format(d.epoch_ms, &self.time_zone))
    }

    /// Parses a string into a date of `kind` by `spec` or the matching format setting.
    pub fn parse_date(
        &self,
        s: &str,
        kind: DateKind,
        spec: Option<&str>,
        span: Span,
    ) -> R<DateValue> {
        let setting = match kind {
            DateKind::Date => &self.settings.date_format,
            DateKind::Time => &self.settings.time_format,
            _ => &self.settings.datetime_format,
        };
        let spec = spec.unwrap_or(setting);
        let f =
            DateFormat::new(spec, kind, &self.locale).map_err(|e| self.err(span, e.to_string()))?;
        let ms = f
            .parse(s, &self.time_zone)
            .map_err(|e| self.err(span, e.to_string()))?;
        Ok(DateValue { epoch_ms: ms, kind })
    }

    /// Formats a boolean for `${...}` / string conversion by the `boolean_format` setting.
    pub fn format_bool(&self, b: bool, span: Span) -> R<String> {
        let f = &self.settings.boolean_format;
        if f == "true,false" {
            if self.settings.classic_compatible {
                return Ok(if b { "true".into() } else { String::new() });
            }
            return Err(self.err(span, "Can't convert boolean to string automatically, because the \"boolean_format\" setting was \"true,false\", which is the legacy deprecated default, and we treat it as if no format was set. This is the default configuration; you should provide the format explicitly for each place where you print a boolean."));
        }
        if f == "c" {
            return Ok(if b { "true".into() } else { "false".into() });
        }
        let (t, fl) = f.split_once(',').unwrap_or((f.as_str(), ""));
        Ok(if b { t.to_string() } else { fl.to_string() })
    }

    /// Converts a value to a string where FreeMarker would do so automatically (string, number, boolean).
    pub fn to_string_value(&self, v: &Value<'a>, span: Span, what: &str) -> R<Rc<str>> {
        match v {
            Value::Str(s) => Ok((*s).into()),
            Value::String(s) => Ok(s.clone()),
            Value::Num(n) if self.computer_format() => {
                let mut s = String::new();
                fb::write_c(n, &mut s);
                Ok(s.into())
            }
            Value::Num(n) => Ok(self.number_format.format(n).into()),
            Value::Bool(b) => Ok(self.format_bool(*b, span)?.into()),
            Value::Date(d) => Ok(self.format_date(*d, None, span)?.into()),
            other => Err(self.err(
                span,
                format!(
                    "For \"{what}\" left-hand operand: Expected a string or something automatically convertible to string (number, date or boolean), or \"template output\" , but this has evaluated to {}:",
                    other.describe()
                ),
            )),
        }
    }

    // ----- expressions -----

    /// Evaluates an expression; `Ok(None)` is a missing value (JSON null or absent).
    pub fn eval(&mut self, e: &'a Expr) -> R<Option<Value<'a>>> {
        self.step()?;
        Ok(Some(match &e.kind {
            ExprKind::Str(s) => Value::Str(s),
            ExprKind::Num(n) => Value::Num(n.clone()),
            ExprKind::Bool(b) => Value::Bool(*b),
            ExprKind::Var(name) => return Ok(self.lookup(name)),
            ExprKind::Special(name) => return self.special(name, e.span),
            ExprKind::Interpolated(parts) => {
                let mut s = String::new();
                for p in parts {
                    match p {
                        StrPart::Lit(l) => s.push_str(l),
                        StrPart::Interp(x) => {
                            let v = self.eval(x)?;
                            let saved = std::mem::take(&mut self.out);
                            self.diverted += 1;
                            let r = self.write_value(v, x, "${...}");
                            self.diverted -= 1;
                            let piece = std::mem::replace(&mut self.out, saved);
                            r?;
                            s.push_str(&piece);
                        }
                    }
                }
                Value::string(s)
            }
            ExprKind::Path { root, steps, .. } => {
                if let Some(found) = self.json_path(root, steps) {
                    return Ok(found.and_then(Value::from_json));
                }
                return self.eval_path_general(e);
            }
            ExprKind::Dot(target, key, hint) => {
                let t = match self.eval(target)? {
                    Some(t) => t,
                    None if self.settings.classic_compatible => return Ok(None),
                    None => return Err(missing_err(self.src(), target.span)),
                };
                if let Value::Json(Json::Object(m)) = &t {
                    return Ok(
                        crate::value::json_get_hinted(m, key, hint).and_then(Value::from_json)
                    );
                }
                return self.get_key(&t, key, target.span, ".");
            }
            ExprKind::Index(target, idx) => {
                let t = match self.eval(target)? {
                    Some(t) => t,
                    None if self.settings.classic_compatible => return Ok(None),
                    None => return Err(missing_err(self.src(), target.span)),
                };
                if let ExprKind::Range(kind, ..) = idx.kind {
                    let r = self.eval_required(idx)?;
                    let limited = kind == RangeKind::Length;
                    return self.slice(&t, &r, limited, target.span, idx.span).map(Some);
                }
                let i = self.eval_required(idx)?;
                return self.index(&t, &i, target.span, idx.span);
            }
            ExprKind::Builtin {
                target,
                id,
                name,
                args,
            } => return self.eval_builtin(target, *id, name, args.as_deref(), e.span),
            ExprKind::Call(f, args) => return self.call_function(f, args, e.span),
            ExprKind::Default(l, r) => {
                let v = self.eval_lenient(l)?;
                match v {
                    Some(v) => v,
                    None => match r {
                        Some(r) => return self.eval(r),
                        None => Value::Str(""),
                    },
                }
            }
            ExprKind::Exists(l) => Value::Bool(self.eval_lenient(l)?.is_some()),
            ExprKind::Paren(inner) => return self.eval(inner),
            ExprKind::Not(inner) => {
                Value::Bool(!self.eval_bool_in(inner, "For \"!\" right-hand operand: ")?)
            }
            ExprKind::Neg(inner) => {
                let v = self.eval_required(inner)?;
                match v {
                    Value::Num(n) => Value::Num(n.neg()),
                    other => {
                        return Err(self.err(
                            inner.span,
                            format!(
                                "For \"-...\" right-hand operand: Expected a number, but this has evaluated to {}:",
                                other.describe()
                            ),
                        ))
                    }
                }
            }
            ExprKind::Pos(inner) => {
                let v = self.eval_required(inner)?;
                match v {
                    Value::Num(_) => v,
                    other => {
                        return Err(self.err(
                            inner.span,
                            format!(
                                "For \"+...\" right-hand operand: Expected a number, but this has evaluated to {}:",
                                other.describe()
                            ),
                        ))
                    }
                }
            }
            ExprKind::Arith(op, l, r) => {
                let lv = self.eval_required(l)?;
                let rv = self.eval_required(r)?;
                self.arith(*op, lv, rv, e.span, l.span, r.span)?
            }
            ExprKind::Cmp(op, l, r) => Value::Bool(self.compare(*op, l, r)?),
            ExprKind::And(l, r) => Value::Bool(
                self.eval_bool_in(l, "For \"&&\" left-hand operand: ")?
                    && self.eval_bool_in(r, "For \"&&\" right-hand operand: ")?,
            ),
            ExprKind::Or(l, r) => Value::Bool(
                self.eval_bool_in(l, "For \"||\" left-hand operand: ")?
                    || self.eval_bool_in(r, "For \"||\" right-hand operand: ")?,
            ),
            ExprKind::Range(kind, l, r) => {
                let start = self.eval_int(l)?;
                match (kind, r) {
                    (RangeKind::Unbounded, _) | (_, None) => Value::Range {
                        start,
                        step: 1,
                        len: None,
                    },
                    (RangeKind::Inclusive, Some(r)) => {
                        let end = self.eval_int(r)?;
                        let (step, len) = if end >= start {
                            (1, end - start + 1)
                        } else {
                            (-1, start - end + 1)
                        };
                        Value::Range {
                            start,
                            step,
                            len: Some(len as usize),
                        }
                    }
                    (RangeKind::Exclusive, Some(r)) => {
                        let end = self.eval_int(r)?;
                        let (step, len) = if end >= start {
                            (1, end - start)
                        } else {
                            (-1, start - end)
                        };
                        Value::Range {
                            start,
                            step,
                            len: Some(len as usize),
                        }
                    }
                    (RangeKind::Length, Some(r)) => {
                        let n = self.eval_int(r)?;
                        let (step, len) = if n >= 0 { (1, n) } else { (-1, -n) };
                        Value::Range {
                            start,
                            step,
                            len: Some(len as usize),
                        }
                    }
                }
            }
            ExprKind::List(items) => {
                let mut v = Vec::with_capacity(items.len());
                for it in items {
                    v.push(self.eval_required(it)?);
                }
                Value::Seq(Rc::new(v))
            }
            ExprKind::Hash(items) => {
                let mut v: Vec<(Rc<str>, Value<'a>)> = Vec::with_capacity(items.len());
                for (k, val) in items {
                    let kv = self.eval_required(k)?;
                    let Some(ks) = kv.as_str() else {
                        return Err(self.err(
                            k.span,
                            format!(
                                "Expected a string, but this has evaluated to {}:",
                                kv.describe()
                            ),
                        ));
                    };
                    let ks: Rc<str> = ks.into();
                    let vv = self.eval_required(val)?;
                    if let Some(slot) = v.iter_mut().find(|(x, _)| *x == ks) {
                        slot.1 = vv;
                    } else {
                        v.push((ks, vv));
                    }
                }
                Value::Hash(Rc::new(v))
            }
            ExprKind::Lambda(..) => return Err(self.err(
                e.span,
                "A lambda expression can only be a built-in's argument (as in ?filter(x -> ...))",
            )),
        }))
    }

    /// `root.k1.k2...` evaluated step by step on `Value`s: the general case behind [`Env::json_path`]
    /// (roots that are not JSON, keys of non-objects, missing steps and their errors).
    fn eval_path_general(&mut self, e: &'a Expr) -> R<Option<Value<'a>>> {
        let ExprKind::Path {
            root,
            root_span,
            steps,
        } = &e.kind
        else {
            return self.eval(e);
        };
        let mut cur = self.lookup(root);
        let mut prefix = *root_span;
        for step in steps {
            let t = match cur {
                Some(t) => t,
                None if self.settings.classic_compatible => return Ok(None),
                None => return Err(missing_err(self.src(), prefix)),
            };
            cur = match &t {
                Value::Json(Json::Object(m)) => {
                    crate::value::json_get_hinted(m, &step.key, &step.hint)
                        .and_then(Value::from_json)
                }
                _ => self.get_key(&t, &step.key, prefix, ".")?,
            };
            prefix = step.span;
        }
        Ok(cur)
    }

    /// The JSON value `root.k1.k2...` names, walked over the borrowed input without building `Value`s:
    /// `Some(None)` when the last key is absent or null. `None` when this walk does not apply (the root
    /// is not a JSON object, or a step before the last is missing, null or not an object); the general
    /// evaluation then decides, and reports any error.
    #[inline]
    fn json_path(&self, root: &str, steps: &'a [PathStep]) -> Option<Option<&'a Json>> {
        let mut cur = self.json_root(root)?;
        let (last, init) = steps.split_last()?;
        for step in init {
            let Json::Object(m) = cur else { return None };
            cur = crate::value::json_get_hinted(m, &step.key, &step.hint)?;
        }
        let Json::Object(m) = cur else { return None };
        Some(crate::value::json_get_hinted(m, &last.key, &last.hint).filter(|j| !j.is_null()))
    }

    /// The JSON a variable holds, if it holds JSON (the input, a loop item from a JSON array, ...).
    #[inline]
    fn json_root(&self, name: &str) -> Option<&'a Json> {
        if name == "input" && self.nothing_shadows_input() {
            return Some(self.input);
        }
        match self.find_var(name) {
            Var::Held(Some(Value::Json(j))) => Some(*j),
            Var::Made(Some(Value::Json(j))) => Some(j),
            _ => None,
        }
    }

    /// No loop variable, local, `#assign`ed or global variable exists, so `input` is the data model's.
    #[inline]
    fn nothing_shadows_input(&self) -> bool {
        let f = &self.frames[self.cur];
        f.loops.is_empty()
            && f.locals.is_empty()
            && self.namespace.is_empty()
            && self.globals.is_empty()
    }

    /// Evaluates the left side of `!` / `??`: a parenthesized expression swallows any missing value inside it.
    pub fn eval_lenient(&mut self, e: &'a Expr) -> R<Option<Value<'a>>> {
        if let ExprKind::Paren(inner) = &e.kind {
            match self.eval(inner) {
                Ok(v) => Ok(v),
                Err(err) if err.is_missing() => Ok(None),
                Err(err) => Err(err),
            }
        } else {
            self.eval(e)
        }
    }

    pub fn eval_required(&mut self, e: &'a Expr) -> R<Value<'a>> {
        match self.eval(e)? {
            Some(v) => Ok(v),
            None if self.settings.classic_compatible => Ok(Value::Str("")),
            None => Err(missing_err(self.src(), e.span)),
        }
    }

    /// [`Env::eval_bool`] whose type error starts with FreeMarker's context (`For "#if" condition: `).
    pub fn eval_bool_in(&mut self, e: &'a Expr, ctx: &str) -> R<bool> {
        // `<#if input.a.b??>`: answered from the JSON (steps counted as `eval` counts them)
        if let ExprKind::Exists(l) = &e.kind {
            if let ExprKind::Path { root, steps, .. } = &l.kind {
                self.step()?;
                self.step()?;
                if let Some(found) = self.json_path(root, steps) {
                    return Ok(found.is_some());
                }
                return Ok(self.eval_path_general(l)?.is_some());
            }
        }
        let v = self.eval(e)?;
        match v {
            Some(Value::Bool(b)) => Ok(b),
            Some(Value::Matches(m)) => Ok(m.whole),
            None if self.settings.classic_compatible => Ok(false),
            None => Err(missing_err(self.src(), e.span)),
            Some(other) if self.settings.classic_compatible => Ok(match &other {
                Value::Str(s) => !s.is_empty(),
                Value::String(s) => !s.is_empty(),
                Value::Num(n) => n.to_f64() != 0.0,
                v if v.is_seq() => v.seq_len() != Some(0),
                v if v.is_hash() => v.hash_len() != 0,
                _ => true,
            }),
            Some(other) => Err(self.err(
                e.span,
                format!(
                    "{}Expected a boolean, but this has evaluated to {}:",
                    ctx,
                    other.describe()
                ),
            )),
        }
    }

    pub fn eval_string(&mut self, e: &'a Expr) -> R<Rc<str>> {
        let v = self.eval_required(e)?;
        self.to_string_value(&v, e.span, "string")
    }

    fn eval_int(&mut self, e: &'a Expr) -> R<i64> {
        let v = self.eval_required(e)?;
        match v {
            // FreeMarker takes range bounds as Java ints (wrapping, like `Number.intValue()`)
            Value::Num(n) => Ok(n.int_value() as i64),
            other => Err(self.err(
                e.span,
                format!(
                    "Expected a number, but this has evaluated to {}:",
                    other.describe()
                ),
            )),
        }
    }

    fn special(&mut self, name: &str, span: Span) -> R<Option<Value<'a>>> {
        Ok(Some(match name {
            "lang" => Value::string(
                self.settings
                    .locale
                    .split('_')
                    .next()
                    .unwrap_or("en")
                    .to_string(),
            ),
            "locale" => Value::string(self.settings.locale.clone()),
            "version" => Value::Str("2.3.31"),
            "output_encoding" | "outputEncoding" => {
                return Ok(self.settings.output_encoding.clone().map(Value::string))
            }
            "url_escaping_charset" | "urlEscapingCharset" => {
                return Ok(self
                    .settings
                    .url_escaping_charset
                    .clone()
                    .map(Value::string))
            }
            "template_name"
            | "templateName"
            | "current_template_name"
            | "currentTemplateName"
            | "main_template_name"
            | "mainTemplateName" => Value::string(self.tpl.name.clone()),
            "now" => {
                let ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64);
                Value::Date(DateValue {
                    epoch_ms: ms,
                    kind: DateKind::DateTime,
                })
            }
            "locale_object" | "localeObject" => Value::string(self.settings.locale.clone()),
            "output_format" | "outputFormat" => Value::Str("undefined"),
            "auto_esc" | "autoEsc" => Value::Bool(false),
            // No XML nodes in a JSON data model: missing, as in FreeMarker outside `<#visit>`.
            "node" | "current_node" | "currentNode" => return Ok(None),
            "locals" => {
                if self.cur == 0 {
                    return Ok(None);
                }
                Value::Hash(Rc::new(self.special_hash(name)))
            }
            "time_zone" | "timeZone" => Value::string(self.settings.time_zone.clone()),
            "incompatible_improvements" | "incompatibleImprovements" => Value::Str("2.3.31"),
            "error" => match self.recovered.last() {
                Some(m) => Value::string(m.to_string()),
                None => {
                    return Err(
                        self.err(span, ".error is not available outside of a #recover block")
                    )
                }
            },
            "caller_template_name" | "callerTemplateName" => {
                if self.cur == 0 {
                    return Err(self.err(span, "Can't get .caller_template_name here, as there's no macro or function (that's implemented in the template) call in context."));
                }
                Value::string(self.tpl.name.clone())
            }
            "data_model" | "dataModel" => {
                let h = vec![(
                    Rc::<str>::from("input"),
                    Value::from_json(self.input).unwrap_or(Value::Str("")),
                )];
                Value::Hash(Rc::new(h))
            }
            "vars" | "globals" | "main" | "namespace" => {
                Value::Hash(Rc::new(self.special_hash(name)))
            }
            _ => return Err(self.err(span, format!("Unknown special variable name: {name:?}"))),
        }))
    }

    /// The text `.error` gives for an error a `<#recover>` handles: FreeMarker's message without its
    /// tips and FTL stack trace (the first line, then the `==> expression  [in template ...]` line of
    /// a missing-value error).
    fn recovered_message(&self, e: Error) -> String {
        let e = e.locate(&self.tpl.name, &self.tpl.source, 0);
        let mut text = e.message().to_string();
        if e.is_missing() {
            if let Some(detail) = e.detail() {
                text.push('\n');
                text.push_str(detail);
                if let (Some(line), Some(column)) = (e.line(), e.column()) {
                    text.push_str(&format!(
                        "  [in template {:?} at line {line}, column {column}]",
                        self.tpl.name
                    ));
                }
            }
        }
        text
    }

    /// The variables `.vars`, `.globals`, `.main` / `.namespace` expose, as a hash.
    fn special_hash(&self, which: &str) -> Vec<(Rc<str>, Value<'a>)> {
        let mut out: Vec<(Rc<str>, Value<'a>)> = Vec::new();
        let mut add = |k: &Rc<str>, v: &Value<'a>| {
            if !out.iter().any(|(x, _)| x == k) {
                out.push((k.clone(), v.clone()));
            }
        };
        if which == "locals" {
            for (k, v) in &self.frames[self.cur].locals {
                if let Some(v) = v {
                    add(k, v);
                }
            }
            return out;
        }
        if which == "vars" {
            let f = &self.frames[self.cur];
            for l in f.loops.iter().rev() {
                if let Some(v) = &l.item {
                    add(&Rc::from(l.name), v);
                }
            }
            for (k, v) in f.locals.iter().rev() {
                if let Some(v) = v {
                    add(k, v);
                }
            }
        }
        if which != "globals" {
            for (k, v) in &self.namespace {
                add(k, v);
            }
            for m in self.tpl.macros.iter() {
                add(&Rc::from(&*m.name), &Value::Macro(m, None));
            }
        }
        if which != "main" && which != "namespace" {
            for (k, v) in &self.globals {
                add(k, v);
            }
            if let Some(v) = Value::from_json(self.input) {
                add(&Rc::from("input"), &v);
            }
        }
        out
    }

    /// `hash.key` (operator `"."`) or `hash["key"]` (operator `"...[...]"`): a hash's value, or
    /// FreeMarker's error blaming the left-hand operand.
    fn get_key(
        &mut self,
        t: &Value<'a>,
        key: &str,
        tspan: Span,
        operator: &str,
    ) -> R<Option<Value<'a>>> {
        if t.is_hash() {
            return Ok(t.hash_get(key));
        }
        Err(self.err(
            tspan,
            format!(
                "For \"{operator}\" left-hand operand: Expected a hash, but this has evaluated to {}:",
                t.describe()
            ),
        ))
    }

    fn index(
        &mut self,
        t: &Value<'a>,
        i: &Value<'a>,
        tspan: Span,
        ispan: Span,
    ) -> R<Option<Value<'a>>> {
        match i {
            Value::Num(n) => {
                let idx = n.int_value() as i64;
                if t.is_seq() {
                    if idx < 0 {
                        return Ok(None);
                    }
                    return Ok(t.seq_get(idx as usize).flatten());
                }
                if let Some(s) = t.as_str() {
                    let chars: Vec<u16> = s.encode_utf16().collect();
                    if idx < 0 || idx as usize >= chars.len() {
                        return Err(self.err(
                            ispan,
                            format!("String index out of range: The index was {idx} (0-based), but the length of the string is only {}.", chars.len()),
                        ));
                    }
                    return Ok(Some(Value::string(utf16_to_string(
                        &chars[idx as usize..idx as usize + 1],
                    ))));
                }
                Err(self.err(
                    tspan,
                    format!(
                        "For \"...[...]\" left-hand operand: Expected a sequence or string or something automatically convertible to string (number, date or boolean), but this has evaluated to {}:",
                        t.describe()
                    ),
                ))
            }
            Value::Str(_) | Value::String(_) => {
                self.get_key(t, i.as_str().unwrap_or(""), tspan, "...[...]")
            }
            other => Err(self.err(
                ispan,
                format!(
                    "Expected a number, range, or string, but this has evaluated to {}:",
                    other.describe()
                ),
            )),
        }
    }

    /// `seq[range]` / `string[range]`; `limited` for `a..*n` ranges, which may run past the end.
    fn slice(
        &mut self,
        t: &Value<'a>,
        r: &Value<'a>,
        limited: bool,
        tspan: Span,
        rspan: Span,
    ) -> R<Value<'a>> {
        let Value::Range { start, step, len } = r else {
            return Err(self.err(rspan, "Expected a range"));
        };
        let units: Option<Vec<u16>> = t.as_str().map(|s| s.encode_utf16().collect());
        let total = if let Some(u) = &units {
            u.len()
        } else if let Value::Range { len: None, .. } = t {
            usize::MAX
        } else if let Some(l) = t.seq_len() {
            l
        } else {
            return Err(self.err(
                tspan,
                format!(
                    "Expected a sequence or string, but this has evaluated to {}:",
                    t.describe()
                ),
            ));
        };
        if *start < 0 {
            return Err(self.err(rspan, format!("Negative range start index ({start}) isn't allowed for a range used for slicing.")));
        }
        let (what, unit) = if units.is_some() {
            ("string", "character")
        } else {
            ("sequence", "element")
        };
        if let Some(l) = len {
            let end = *start + *step * (*l as i64 - 1);
            if *l > 0 && end < 0 && !limited {
                return Err(self.err(rspan, format!("Negative range end index ({end}) isn't allowed for a range used for slicing.")));
            }
        }
        let start_u = *start as usize;
        let mut len = match len {
            Some(l) => *l,
            None => total.saturating_sub(start_u),
        };
        if *step < 0 {
            if limited {
                len = len.min(start_u + 1);
            }
            if len > 0 && start_u >= total {
                return Err(self.err(rspan, format!("Range start index {start} is out of bounds, because the sliced {what} has only {total} {unit}(s). (Note that indices are 0-based).")));
            }
        } else {
            if limited {
                len = len.min(total.saturating_sub(start_u));
            }
            if start_u > total || start_u.saturating_add(len) > total {
                return Err(self.err(rspan, format!(
                    "Range end index {} is out of bounds, because the sliced {what} has only {total} {unit}(s). (Note that indices are 0-based).",
                    (start_u + len).saturating_sub(1)
                )));
            }
        }
        if len > 10_000_000 {
            return Err(self.err(rspan, "The slice is too long"));
        }
        let idxs = (0..len).map(|k| (*start + *step * k as i64) as usize);
        if let Some(u) = units {
            let picked: Vec<u16> = idxs.filter_map(|i| u.get(i).copied()).collect();
            return Ok(Value::string(utf16_to_string(&picked)));
        }
        let mut out = Vec::with_capacity(len.min(1024));
        for i in idxs {
            if let Some(Some(v)) = t.seq_get(i) {
                out.push(v);
            }
        }
        Ok(Value::Seq(Rc::new(out)))
    }

    fn call_function(&mut self, f: &'a Expr, args: &'a [Expr], span: Span) -> R<Option<Value<'a>>> {
        let fv = self.eval_required(f)?;
        let Value::Macro(m, with) = fv else {
            return Err(self.err(
                f.span,
                format!(
                    "For \"...(...)\" callee: Expected a method or function, but this has evaluated to {}:",
                    fv.describe()
                ),
            ));
        };
        if !m.is_function {
            return Err(self.err(
                f.span,
                "A macro cannot be called in an expression. (Functions can be.)",
            ));
        }
        let values = self.positional_args(m, with.as_deref(), args, span)?;
        let (mut locals, rest) = bind_positional(m, values);
        if let Some(c) = &m.catch_all {
            locals.push((c.as_ref().into(), Some(Value::Seq(Rc::new(rest)))));
        }
        let saved_len = self.out.len();
        let r = self.invoke(m, locals, None, &[], span)?;
        // functions discard their output
        self.truncate_out(saved_len);
        match r {
            Some(v) => Ok(Some(v)),
            None => Ok(None),
        }
    }

    pub fn arith(
        &mut self,
        op: BinOp,
        l: Value<'a>,
        r: Value<'a>,
        span: Span,
        lspan: Span,
        rspan: Span,
    ) -> R<Value<'a>> {
        if let (Value::Num(a), Value::Num(b)) = (&l, &r) {
            return Ok(Value::Num(
                match op {
                    BinOp::Add => a.add(b),
                    BinOp::Sub => a.sub(b),
                    BinOp::Mul => a.mul(b),
                    BinOp::Div => a.div(b),
                    BinOp::Rem => a.rem(b),
                }
                .map_err(|e| self.err(span, e.to_string()))?,
            ));
        }
        if op == BinOp::Add {
            if l.is_hash() && r.is_hash() && !l.is_string() {
                let total = l.hash_len().saturating_add(r.hash_len());
                self.charge(total.saturating_mul(ENTRY_BYTES))?;
                return Ok(Value::Hash(Rc::new(concat_hashes(&l, &r, total))));
            }
            if l.is_seq() && r.is_seq() {
                let total = l
                    .seq_len()
                    .unwrap_or(0)
                    .saturating_add(r.seq_len().unwrap_or(0));
                self.charge(total.saturating_mul(VALUE_BYTES))?;
                let mut out = Vec::with_capacity(total);
                for side in [&l, &r] {
                    let n = side.seq_len().unwrap_or(0);
                    for i in 0..n {
                        if let Some(Some(v)) = side.seq_get(i) {
                            out.push(v);
                        }
                    }
                }
                return Ok(Value::Seq(Rc::new(out)));
            }
            let scalar = |v: &Value<'a>| {
                matches!(v, Value::Num(_) | Value::Bool(_) | Value::Date(_)) || v.is_string()
            };
            if l.is_string() || r.is_string() || (scalar(&l) && scalar(&r)) {
                let a = self.to_string_value(&l, lspan, "+")?;
                let b = self.to_string_value(&r, rspan, "+")?;
                self.charge(a.len() + b.len())?;
                let mut s = String::with_capacity(a.len() + b.len());
                s.push_str(&a);
                s.push_str(&b);
                return Ok(Value::string(s));
            }
            let bad = if scalar(&l) {
                (&r, rspan, "right")
            } else {
                (&l, lspan, "left")
            };
            return Err(self.err(bad.1, format!(
                "For \"+\" {}-hand operand: Expected a string or something automatically convertible to string (number, date or boolean), or \"template output\" , but this has evaluated to {}:",
                bad.2,
                bad.0.describe()
            )));
        }
        let sym = match op {
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            _ => "%",
        };
        let (bad, side, sp) = if !matches!(l, Value::Num(_)) {
            (&l, "left", lspan)
        } else {
            (&r, "right", rspan)
        };
        Err(self.err(sp, format!("For \"{sym}\" {side}-hand operand: Expected a number, but this has evaluated to {}:", bad.describe())))
    }

    fn compare(&mut self, op: CmpOp, l: &'a Expr, r: &'a Expr) -> R<bool> {
        let lv = self.eval(l)?;
        let rv = self.eval(r)?;
        let classic = self.settings.classic_compatible;
        let lv = match lv {
            Some(v) => v,
            None if classic => Value::Str(""),
            None => return Err(missing_err(self.src(), l.span)),
        };
        let rv = match rv {
            Some(v) => v,
            None if classic => Value::Str(""),
            None => return Err(missing_err(self.src(), r.span)),
        };
        let sym = match op {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        };
        match op {
            CmpOp::Eq => self.values_equal(&lv, &rv, l.span.to(r.span), sym),
            CmpOp::Ne => Ok(!self.values_equal(&lv, &rv, l.span.to(r.span), sym)?),
            _ => {
                let ord = match (&lv, &rv) {
                    (Value::Num(a), Value::Num(b)) => a.compare(b),
                    (Value::Date(a), Value::Date(b)) => a.epoch_ms.cmp(&b.epoch_ms),
                    (a, b) if a.is_string() && b.is_string() => {
                        return Err(self.err(
                            l.span.to(r.span),
                            format!("Can't use operator \"{sym}\" on string values."),
                        ))
                    }
                    (Value::Bool(_), Value::Bool(_)) => {
                        return Err(self.err(
                            l.span.to(r.span),
                            format!("Can't use operator \"{sym}\" on boolean values."),
                        ))
                    }
                    _ => return Err(self.cmp_type_err(&lv, &rv, l.span.to(r.span))),
                };
                Ok(match op {
                    CmpOp::Lt => ord.is_lt(),
                    CmpOp::Le => ord.is_le(),
                    CmpOp::Gt => ord.is_gt(),
                    _ => ord.is_ge(),
                })
            }
        }
    }

    fn cmp_type_err(&self, _l: &Value<'a>, _r: &Value<'a>, span: Span) -> Error {
        self.err(span, "Can't compare values of these types. Allowed comparisons are between two numbers, two strings, two dates, or two booleans.")
    }

    pub fn values_equal(&self, l: &Value<'a>, r: &Value<'a>, span: Span, _sym: &str) -> R<bool> {
        match (l, r) {
            (Value::Num(a), Value::Num(b)) => Ok(a.compare(b).is_eq()),
            (Value::Bool(a), Value::Bool(b)) => Ok(a == b),
            (Value::Date(a), Value::Date(b)) => Ok(a.epoch_ms == b.epoch_ms),
            (a, b) if a.is_string() && b.is_string() => Ok(a.as_str() == b.as_str()),
            _ if self.settings.classic_compatible => Ok(false),
            _ => Err(self.cmp_type_err(l, r, span)),
        }
    }
}

/// Whether two variable names are equal (compared inline: names are short and looked up often).
#[inline(always)]
fn same_name(a: &str, b: &str) -> bool {
    crate::value::same_key(a.as_bytes(), b.as_bytes())
}

/// Decodes UTF-16 as Java's UTF-8 encoder would output it: unpaired surrogates become `?`.
pub(crate) fn utf16_to_string(units: &[u16]) -> String {
    char::decode_utf16(units.iter().copied())
        .map(|r| r.unwrap_or('?'))
        .collect()
}

/// `<#compress>`: trims the whole text; runs of white-space become one line break (if they held one) or a space.
fn compress_into(s: &str, out: &mut String) {
    let t = s.trim_matches(|c: char| c.is_whitespace());
    let mut run = false;
    let mut line_break: Option<&str> = None;
    let mut iter = t.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        if c.is_whitespace() {
            run = true;
            if line_break.is_none() && (c == '\n' || c == '\r') {
                line_break = Some(if c == '\r' && t[i + 1..].starts_with('\n') {
                    "\r\n"
                } else if c == '\r' {
                    "\r"
                } else {
                    "\n"
                });
            }
        } else {
            if run {
                out.push_str(line_break.unwrap_or(" "));
                run = false;
                line_break = None;
            }
            out.push(c);
        }
        let _ = iter.peek();
    }
}

/// Bytes counted for one item of a sequence built by a render.
pub(crate) const VALUE_BYTES: usize = std::mem::size_of::<Value<'static>>();
/// Bytes counted for one entry of a hash built by a render.
pub(crate) const ENTRY_BYTES: usize = std::mem::size_of::<(Rc<str>, Value<'static>)>();

/// `l + r` for hashes: `l`'s keys in order, then `r`'s new ones; a key of both takes `r`'s
/// value. An index keeps a long chain of `<#assign h = h + {...}>` linear per step.
fn concat_hashes<'a>(l: &Value<'a>, r: &Value<'a>, total: usize) -> Vec<(Rc<str>, Value<'a>)> {
    let mut out: Vec<(Rc<str>, Value<'a>)> = Vec::with_capacity(total);
    let mut index: std::collections::HashMap<Rc<str>, usize> = std::collections::HashMap::new();
    for side in [l, r] {
        for (k, v) in side.hash_keys().into_iter().zip(side.hash_values()) {
            let k: Rc<str> = k.as_str().unwrap_or("").into();
            let Some(v) = v else { continue };
            match index.get(&k) {
                Some(&at) => out[at].1 = v,
                None => {
                    index.insert(k.clone(), out.len());
                    out.push((k, v));
                }
            }
        }
    }
    out
}

/// Binds positional arguments to a routine's parameters in order; the values beyond them are
/// returned for the catch-all parameter.
#[allow(clippy::type_complexity)]
fn bind_positional<'a>(
    m: &MacroDef,
    values: Vec<Option<Value<'a>>>,
) -> (Vec<(Rc<str>, Option<Value<'a>>)>, Vec<Value<'a>>) {
    let mut locals = Vec::with_capacity(m.params.len() + 1);
    let mut rest = Vec::new();
    for (i, v) in values.into_iter().enumerate() {
        match m.params.get(i) {
            Some((param, _)) => locals.push((Rc::from(param.as_ref()), v)),
            None => rest.extend(v),
        }
    }
    (locals, rest)
}

#[cfg(test)]
mod tests {
    use crate::{Settings, Template};

    /// Renders `source` over `input`: the output, or the error's one-line message.
    fn run(source: &str, input: &str, classic: bool) -> String {
        let mut settings = Settings::default();
        if classic {
            settings
                .set("classic_compatible", "true")
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let t = Template::new("t", source, settings).unwrap_or_else(|e| panic!("{source}: {e:#}"));
        let input = serde_json::from_str(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        match t.render(&input) {
            Ok(s) => s,
            Err(e) => format!("error: {e}"),
        }
    }

    /// The JSON shortcuts for `input.a.b` paths (`${...}`, `${...!d}`, `<#if ...??>`, plain use)
    /// behave exactly like the general evaluation, which `(input).a.b` takes.
    #[test]
    fn json_path_shortcuts_match_the_general_evaluation() {
        let forms = [
            "${X}",
            "${X!}",
            "${X!\"dflt\"}",
            "${X!input.z!\"z\"}",
            "<#if X??>yes<#else>no</#if>",
            "${X?is_string?c}",
            "[${(X)!\"p\"}]",
        ];
        let inputs = [
            r#"{}"#,
            r#"{"a":null}"#,
            r#"{"a":"str"}"#,
            r#"{"a":7}"#,
            r#"{"a":[1]}"#,
            r#"{"a":{}}"#,
            r#"{"a":{"b":null}}"#,
            r#"{"a":{"b":"hi"}}"#,
            r#"{"a":{"b":1.5}}"#,
            r#"{"a":{"b":true}}"#,
            r#"{"a":{"b":{"c":1}}}"#,
            r#"{"a":{"b":[1,2]}}"#,
            r#"{"z":"zz","a":{"x":1,"b":"hi"}}"#,
        ];
        let mut checked = 0;
        for form in forms {
            for classic in [false, true] {
                for input in inputs {
                    let fast = run(&form.replace('X', "input.a.b"), input, classic);
                    let general = run(&form.replace('X', "(input).a.b"), input, classic);
                    assert_eq!(fast, general, "{form} over {input} (classic {classic})");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, forms.len() * 2 * inputs.len());
    }

    /// `${x?json_string}`, `${x?c}` and `${x?string(format)}` write straight into the output;
    /// through `#assign` the same built-ins build a value first. Both must agree, errors included.
    #[test]
    fn direct_builtin_output_matches_the_built_value() {
        let inputs = [
            r#"{}"#,
            r#"{"x":null}"#,
            r#"{"x":"say \"hi\"\n</script>"}"#,
            r#"{"x":19.99}"#,
            r#"{"x":12}"#,
            r#"{"x":true}"#,
            r#"{"x":[1]}"#,
            r#"{"x":{"y":1}}"#,
        ];
        let builtins = [
            "json_string",
            "c",
            "string(\"0.00\")",
            "string(\"#,##0.###\")",
            "string(\"0.0\", \"no\")",
            "string(7)",
        ];
        for builtin in builtins {
            for target in ["input.x", "(input.x)!\"d\"", "input.x + \"s\""] {
                for classic in [false, true] {
                    for input in inputs {
                        let direct = run(&format!("${{{target}?{builtin}}}"), input, classic);
                        let built = run(
                            &format!("<#assign r = {target}?{builtin}>${{r}}"),
                            input,
                            classic,
                        );
                        assert_eq!(direct, built, "{target}?{builtin} over {input}");
                    }
                }
            }
        }
    }

    /// A loop variable or an assignment named like the data model root is what the path starts from.
    #[test]
    fn json_path_roots_respect_shadowing() {
        let input = r#"{"a":{"b":"data"},"items":[{"a":{"b":"item"}}]}"#;
        assert_eq!(
            run(
                "${input.a.b}<#list input.items as input>${input.a.b}</#list>",
                input,
                false
            ),
            "dataitem"
        );
        assert_eq!(
            run(
                "<#assign input = {\"a\": {\"b\": \"hash\"}}>${input.a.b}",
                input,
                false
            ),
            "hash"
        );
    }
}
