//! Built-ins (`x?name`, `x?name(args)`): the name table and their evaluation.

use crate::ast::{Expr, ExprKind, Span};
use crate::error::Error;
use crate::format_bridge::{self as fb, escape, DateKind, DateValue, Number, TimeZone};
use crate::render::{missing_err, Env};
use crate::value::Value;
use std::rc::Rc;

macro_rules! builtins {
    ($($id:ident = $name:literal),* $(,)?) => {
        /// A built-in, resolved by name at parse time.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum BuiltinId { $($id),* }

        impl BuiltinId {
            fn lookup(name: &str) -> Option<BuiltinId> {
                match name { $($name => Some(BuiltinId::$id),)* _ => None }
            }
        }
    };
}

builtins! {
    UpperCase = "upper_case", LowerCase = "lower_case", CapFirst = "cap_first", UncapFirst = "uncap_first",
    Capitalize = "capitalize", Trim = "trim", Length = "length", Contains = "contains",
    StartsWith = "starts_with", EndsWith = "ends_with", IndexOf = "index_of", LastIndexOf = "last_index_of",
    Replace = "replace", Split = "split", KeepAfter = "keep_after", KeepAfterLast = "keep_after_last",
    KeepBefore = "keep_before", KeepBeforeLast = "keep_before_last", RemoveBeginning = "remove_beginning",
    RemoveEnding = "remove_ending", EnsureStartsWith = "ensure_starts_with", EnsureEndsWith = "ensure_ends_with",
    Substring = "substring", Truncate = "truncate", TruncateW = "truncate_w", TruncateC = "truncate_c", TruncateM = "truncate_m",
    TruncateWM = "truncate_w_m", TruncateCM = "truncate_c_m", Groups = "groups", LeftPad = "left_pad", RightPad = "right_pad", Matches = "matches",
    JsonString = "json_string", JsString = "js_string", JString = "j_string", Html = "html", Xhtml = "xhtml",
    Xml = "xml", Url = "url", UrlPath = "url_path", Number = "number", Boolean = "boolean",
    Date = "date", Time = "time", Datetime = "datetime", HasContent = "has_content", EvalJson = "eval_json",
    ChopLinebreak = "chop_linebreak", WordList = "word_list",
    C = "c", String = "string", Round = "round", Floor = "floor", Ceiling = "ceiling", Int = "int",
    Abs = "abs", Long = "long", Short = "short", Byte = "byte", Double = "double", Float = "float",
    NumberToDatetime = "number_to_datetime", NumberToDate = "number_to_date", NumberToTime = "number_to_time",
    IsNan = "is_nan", IsInfinite = "is_infinite", LowerAbc = "lower_abc", UpperAbc = "upper_abc",
    Then = "then", Switch = "switch",
    Size = "size", First = "first", Last = "last", Join = "join", SeqContains = "seq_contains",
    SeqIndexOf = "seq_index_of", SeqLastIndexOf = "seq_last_index_of", Reverse = "reverse", Sequence = "sequence", Sort = "sort",
    SortBy = "sort_by", Chunk = "chunk", Min = "min", Max = "max", Filter = "filter", Map = "map",
    TakeWhile = "take_while", DropWhile = "drop_while", Keys = "keys", Values = "values",
    IsoUtc = "iso_utc", Iso = "iso", IsoLocal = "iso_local", DateIfUnknown = "date_if_unknown",
    TimeIfUnknown = "time_if_unknown", DatetimeIfUnknown = "datetime_if_unknown",
    IsString = "is_string", IsNumber = "is_number", IsBoolean = "is_boolean", IsDate = "is_date",
    IsDateLike = "is_date_like", IsDateOnly = "is_date_only", IsTime = "is_time", IsDatetime = "is_datetime",
    IsUnknownDateLike = "is_unknown_date_like", IsMethod = "is_method", IsTransform = "is_transform",
    IsMacro = "is_macro", WithArgs = "with_args", WithArgsLast = "with_args_last", IsDirective = "is_directive", IsHash = "is_hash", IsHashEx = "is_hash_ex",
    IsSequence = "is_sequence", IsCollection = "is_collection", IsCollectionEx = "is_collection_ex",
    IsEnumerable = "is_enumerable", IsIndexable = "is_indexable", IsNode = "is_node",
    IsMarkupOutput = "is_markup_output",
    Index = "index", Counter = "counter", HasNext = "has_next", IsFirst = "is_first", IsLast = "is_last",
    ItemParity = "item_parity", ItemParityCap = "item_parity_cap", ItemCycle = "item_cycle",
    IsEvenItem = "is_even_item", IsOddItem = "is_odd_item",
    Default = "default", Exists = "exists", IfExists = "if_exists",
}

/// Built-ins that exist in FreeMarker but are refused by this sandboxed engine.
const FORBIDDEN: &[&str] = &["new", "api", "eval", "interpret", "has_api"];

impl BuiltinId {
    /// Resolves a built-in name (snake_case or camelCase). Unknown or sandbox-refused names give the message
    /// of the parse error.
    pub fn from_name(name: &str) -> Result<BuiltinId, String> {
        let snake = to_snake(name);
        if FORBIDDEN.contains(&snake.as_str()) {
            return Err(format!(
                "The ?{name} built-in is not allowed in this sandboxed FreeMarker engine."
            ));
        }
        if snake.starts_with("iso") && fb::iso_builtin_options(&snake).is_some() {
            return Ok(BuiltinId::Iso);
        }
        BuiltinId::lookup(&snake).ok_or_else(|| {
            format!("Unknown built-in: {name:?}. Help (latest version): https://freemarker.apache.org/docs/ref_builtins.html")
        })
    }
}

fn to_snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

type R<T> = Result<T, Error>;

fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// Byte offset -> UTF-16 index (Java string index).
fn utf16_index(s: &str, byte: usize) -> usize {
    utf16_len(&s[..byte])
}

/// UTF-16 index -> byte offset (clamped).
fn byte_index(s: &str, u16idx: usize) -> usize {
    let mut n = 0;
    for (b, c) in s.char_indices() {
        if n >= u16idx {
            return b;
        }
        n += c.len_utf16();
    }
    s.len()
}

fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

impl<'a> Env<'a> {
    fn bi_err(&self, span: Span, msg: impl Into<String>) -> Error {
        self.err(span, msg)
    }

    fn arg_count(&self, name: &str, args: &[Expr], min: usize, max: usize, span: Span) -> R<()> {
        let n = args.len();
        if n < min || n > max {
            let expect = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else if max == min + 1 {
                format!("{min} or {max}")
            } else {
                format!("{min} to {max}")
            };
            let received = if n == 0 {
                "none".to_string()
            } else {
                n.to_string()
            };
            return Err(self.bi_err(
                span,
                format!(
                    "?{name}(...) expects {expect} argument{} but has received {received}.",
                    if max == 1 { "" } else { "s" }
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn arg_str(&mut self, args: &'a [Expr], i: usize) -> R<Text<'a>> {
        let name = self.current_builtin;
        let e = &args[i];
        let v = self.eval_required(e)?;
        match v {
            Value::Str(s) => Ok(Text::Borrowed(s)),
            Value::String(s) => Ok(Text::Shared(s)),
            Value::Num(_) => self
                .to_string_value(&v, e.span, "argument")
                .map(Text::Shared),
            other => Err(self.err(
                e.span,
                format!(
                    "?{name}(...) expects a string as argument #{}, but received {}.",
                    i + 1,
                    other.describe()
                ),
            )),
        }
    }

    fn arg_num(&mut self, args: &'a [Expr], i: usize) -> R<Number> {
        let name = self.current_builtin;
        let e = &args[i];
        match self.eval_required(e)? {
            Value::Num(n) => Ok(n),
            other => Err(self.err(
                e.span,
                format!(
                    "?{name}(...) expects a number as argument #{}, but received {}.",
                    i + 1,
                    other.describe()
                ),
            )),
        }
    }

    fn loop_builtin(
        &mut self,
        target: &'a Expr,
        id: BuiltinId,
        name: &str,
        args: Option<&'a [Expr]>,
        span: Span,
    ) -> R<Option<Value<'a>>> {
        let ExprKind::Var(var) = &target.kind else {
            return Err(self.err(
                span,
                format!("The left hand operand of ?{name} must be a loop variable."),
            ));
        };
        let Some(l) = self.find_loop(var) else {
            return Err(self.err(span, format!("The left hand operand of ?{name} must be a loop variable, but there's no loop variable called {var:?} in scope.")));
        };
        let (index, has_next) = (l.index, l.has_next);
        Ok(Some(match id {
            BuiltinId::Index => Value::Num(Number::from_i64(index as i64)),
            BuiltinId::Counter => Value::Num(Number::from_i64(index as i64 + 1)),
            BuiltinId::HasNext => Value::Bool(has_next),
            BuiltinId::IsFirst => Value::Bool(index == 0),
            BuiltinId::IsLast => Value::Bool(!has_next),
            BuiltinId::ItemParity => Value::Str(if index % 2 == 0 { "odd" } else { "even" }),
            BuiltinId::ItemParityCap => Value::Str(if index % 2 == 0 { "Odd" } else { "Even" }),
            BuiltinId::IsEvenItem => Value::Bool(index % 2 == 1),
            BuiltinId::IsOddItem => Value::Bool(index % 2 == 0),
            _ => {
                let args = args.unwrap_or(&[]);
                if args.is_empty() {
                    return Err(self.err(
                        span,
                        "?item_cycle(...) expects at least 1 argument, but has received 0.",
                    ));
                }
                let e = &args[index % args.len()];
                return self.eval(e);
            }
        }))
    }

    /// Evaluates `target?name(args)`.
    pub fn eval_builtin(
        &mut self,
        target: &'a Expr,
        id: BuiltinId,
        name: &'a str,
        args: Option<&'a [Expr]>,
        span: Span,
    ) -> R<Option<Value<'a>>> {
        use BuiltinId as B;
        // built-ins that look at the target without requiring it
        match id {
            B::Index
            | B::Counter
            | B::HasNext
            | B::IsFirst
            | B::IsLast
            | B::ItemParity
            | B::ItemParityCap
            | B::ItemCycle
            | B::IsEvenItem
            | B::IsOddItem => return self.loop_builtin(target, id, name, args, span),
            B::HasContent => {
                let v = match self.eval_lenient(target) {
                    Ok(v) => v,
                    Err(e) if e.is_missing() => None,
                    Err(e) => return Err(e),
                };
                return Ok(Some(Value::Bool(match v {
                    None => false,
                    Some(Value::Str(s)) => !s.is_empty(),
                    Some(Value::String(s)) => !s.is_empty(),
                    Some(v) if v.is_seq() => v.seq_len() != Some(0),
                    Some(v) if v.is_hash() => v.hash_len() != 0,
                    Some(_) => true,
                })));
            }
            B::Exists => return Ok(Some(Value::Bool(self.eval_lenient(target)?.is_some()))),
            B::IfExists => return Ok(Some(self.eval_lenient(target)?.unwrap_or(Value::Str("")))),
            B::Default => {
                let v = self.eval_lenient(target)?;
                if v.is_some() {
                    return Ok(v);
                }
                for a in args.unwrap_or(&[]) {
                    if let Some(v) = self.eval(a)? {
                        return Ok(Some(v));
                    }
                }
                return Ok(Some(Value::Str("")));
            }
            _ => {}
        }
        let t = self.eval(target)?;
        self.apply_builtin(t, target, id, name, args, span)
    }

    /// `target?name(args)` once `target` has been evaluated to `t` (`None` = missing): every
    /// built-in but those that look at the target expression itself (loop-variable and existence
    /// built-ins, which [`Env::eval_builtin`] handles first).
    pub fn apply_builtin(
        &mut self,
        t: Option<Value<'a>>,
        target: &'a Expr,
        id: BuiltinId,
        name: &'a str,
        args: Option<&'a [Expr]>,
        span: Span,
    ) -> R<Option<Value<'a>>> {
        let target_block = t.as_ref().and_then(block_of);
        let result = self.builtin_value(t, target, id, name, args, span)?;
        // A built-in that hands its target back (`?trim` of a trimmed string) built nothing.
        if let Some(built) = result.as_ref().filter(|v| block_of(v) != target_block) {
            self.charge(built_bytes(built))?;
        }
        Ok(result)
    }

    /// [`Env::apply_builtin`] before its result is counted against the memory limit.
    fn builtin_value(
        &mut self,
        t: Option<Value<'a>>,
        target: &'a Expr,
        id: BuiltinId,
        name: &'a str,
        args: Option<&'a [Expr]>,
        span: Span,
    ) -> R<Option<Value<'a>>> {
        use BuiltinId as B;
        // classic_compatible does not turn a missing built-in target into ""
        let t = match t {
            Some(t) => t,
            None => return Err(missing_err(self.src(), target.span)),
        };
        let t = match t {
            // a regex match result is a boolean to everything but sequence built-ins and ?groups
            Value::Matches(m)
                if !matches!(
                    id,
                    B::Groups
                        | B::Size
                        | B::First
                        | B::Last
                        | B::Join
                        | B::SeqContains
                        | B::SeqIndexOf
                ) =>
            {
                Value::Bool(m.whole)
            }
            other => other,
        };
        let no_args: &'a [Expr] = &[];
        let a = args.unwrap_or(no_args);
        let tspan = target.span;
        let bare = name;
        self.current_builtin = bare;
        // FreeMarker names a built-in called with arguments `?name(...)` in its messages
        let name = Shown {
            name: bare,
            call: args.is_some(),
        };
        macro_rules! need_args {
            ($min:expr, $max:expr) => {
                self.arg_count(bare, a, $min, $max, span)?
            };
        }
        macro_rules! s {
            () => {
                self.builtin_str(&t, tspan, name)?
            };
        }
        let v: Value<'a> = match id {
            // ----- strings -----
            B::UpperCase => Value::string(escape::upper_case_in(&s!(), &self.locale)),
            B::LowerCase => Value::string(escape::lower_case_in(&s!(), &self.locale)),
            B::CapFirst => Value::string(escape::cap_first(&s!())),
            B::UncapFirst => Value::string(escape::uncap_first(&s!())),
            B::Capitalize => Value::string(escape::capitalize(&s!())),
            B::Trim => Value::string(java_trim(&s!())),
            B::Length => Value::Num(Number::from_i64(utf16_len(&s!()) as i64)),
            B::Contains => {
                need_args!(1, 1);
                let h = s!();
                let n = self.arg_str(a, 0)?;
                Value::Bool(h.contains(&*n))
            }
            B::StartsWith => {
                need_args!(1, 1);
                let h = s!();
                let n = self.arg_str(a, 0)?;
                Value::Bool(h.starts_with(&*n))
            }
            B::EndsWith => {
                need_args!(1, 1);
                let h = s!();
                let n = self.arg_str(a, 0)?;
                Value::Bool(h.ends_with(&*n))
            }
            B::IndexOf | B::LastIndexOf => {
                need_args!(1, 2);
                let h = s!();
                let n = self.arg_str(a, 0)?;
                let last = id == B::LastIndexOf;
                let from = if a.len() > 1 {
                    Some(self.arg_num(a, 1)?.int_value() as i64)
                } else {
                    None
                };
                let r = if last {
                    let limit = match from {
                        Some(f) if f < 0 => None,
                        Some(f) => Some(byte_index(&h, f as usize + utf16_len(&n)).min(h.len())),
                        None => Some(h.len()),
                    };
                    limit.and_then(|lim| h[..lim].rfind(&*n))
                } else {
                    let start = byte_index(&h, from.unwrap_or(0).max(0) as usize);
                    h[start..].find(&*n).map(|i| i + start)
                };
                Value::Num(Number::from_i64(
                    r.map_or(-1, |b| utf16_index(&h, b) as i64),
                ))
            }
            B::Replace => {
                need_args!(2, 3);
                let h = s!();
                let from = self.arg_str(a, 0)?;
                let to = self.arg_str(a, 1)?;
                let flags = if a.len() > 2 {
                    self.arg_str(a, 2)?.to_string()
                } else {
                    String::new()
                };
                self.fits(replaced_bound(&h, &from, &to, &flags))?;
                Value::string(self.replace(&h, &from, &to, &flags, span)?)
            }
            B::Split => {
                need_args!(1, 2);
                let h = s!();
                let sep = self.arg_str(a, 0)?;
                let flags = if a.len() > 1 {
                    self.arg_str(a, 1)?.to_string()
                } else {
                    String::new()
                };
                let parts: Vec<Value<'a>> = if flags.contains('r') {
                    let re = self.regex(&sep, &flags, span)?;
                    java_regex_split(&re, &h)
                        .into_iter()
                        .map(Value::string)
                        .collect()
                } else if flags.contains('i') {
                    let lower = h.to_lowercase();
                    let sl = sep.to_lowercase();
                    let mut out = Vec::new();
                    let mut last = 0;
                    for (i, _) in lower.match_indices(&*sl) {
                        out.push(Value::string(&h[last..i]));
                        last = i + sl.len();
                    }
                    out.push(Value::string(&h[last..]));
                    out
                } else if sep.is_empty() {
                    h.chars().map(|c| Value::string(c.to_string())).collect()
                } else {
                    h.split(&*sep).map(Value::string).collect()
                };
                Value::Seq(Rc::new(parts))
            }
            B::KeepAfter | B::KeepAfterLast | B::KeepBefore | B::KeepBeforeLast => {
                need_args!(1, 2);
                let h = s!();
                let n = self.arg_str(a, 0)?;
                let flags = if a.len() > 1 {
                    self.arg_str(a, 1)?.to_string()
                } else {
                    String::new()
                };
                let found: Option<(usize, usize)> = if flags.contains('r') || flags.contains('i') {
                    let pat = if flags.contains('r') {
                        n.to_string()
                    } else {
                        regex::escape(&n)
                    };
                    let re = self.regex(&pat, &flags, span)?;
                    if matches!(id, B::KeepAfterLast | B::KeepBeforeLast) {
                        re.find_iter(&h).last().map(|m| (m.start(), m.end()))
                    } else {
                        re.find(&h).map(|m| (m.start(), m.end()))
                    }
                } else if matches!(id, B::KeepAfterLast | B::KeepBeforeLast) {
                    h.rfind(&*n).map(|i| (i, i + n.len()))
                } else {
                    h.find(&*n).map(|i| (i, i + n.len()))
                };
                Value::string(match (id, found) {
                    (B::KeepAfter | B::KeepAfterLast, Some((_, e))) => &h[e..],
                    (B::KeepAfter | B::KeepAfterLast, None) => "",
                    (_, Some((s, _))) => &h[..s],
                    (_, None) => &h[..],
                })
            }
            B::Substring => {
                need_args!(1, 2);
                let h = s!();
                let units: Vec<u16> = h.encode_utf16().collect();
                let from = self.arg_num(a, 0)?.int_value() as i64;
                let to = if a.len() > 1 { self.arg_num(a, 1)?.int_value() as i64 } else { units.len() as i64 };
                let len = units.len() as i64;
                // FreeMarker's checks, in its order and words.
                let problem = [(0, from), (1, to)].into_iter().find_map(|(index, value)| {
                    let detail = if value < 0 {
                        format!("The index must be at least 0, but was {value}.")
                    } else if value > len {
                        format!("The index mustn't be greater than the length of the string, {len}, but it was {value}.")
                    } else {
                        return None;
                    };
                    Some(format!("?substring(...) argument #{} had invalid value: {detail}", index + 1))
                });
                let problem = problem.or_else(|| (from > to).then(|| format!(
                    "?substring(...) arguments have invalid value: The begin index argument, {from}, shouldn't be greater than the end index argument, {to}."
                )));
                if let Some(message) = problem {
                    return Err(self.err(span, message));
                }
                Value::string(crate::render::utf16_to_string(&units[from as usize..to as usize]))
            }
            B::RemoveBeginning => {
                need_args!(1, 1);
                let h = s!();
                let n = self.arg_str(a, 0)?;
                Value::string(h.strip_prefix(&*n).unwrap_or(&h))
            }
            B::RemoveEnding => {
                need_args!(1, 1);
                let h = s!();
                let n = self.arg_str(a, 0)?;
                Value::string(h.strip_suffix(&*n).unwrap_or(&h))
            }
            B::EnsureStartsWith if a.len() > 1 => {
                need_args!(2, 3);
                let h = s!();
                let pattern = self.arg_str(a, 0)?;
                let prefix = self.arg_str(a, 1)?;
                let flags = if a.len() > 2 {
                    self.arg_str(a, 2)?.to_string()
                } else {
                    "r".to_string()
                };
                let pat = if flags.contains('r') {
                    format!("^(?:{pattern})")
                } else {
                    format!("^{}", regex::escape(&pattern))
                };
                let re = self.regex(&pat, &flags, span)?;
                if re.is_match(&h) {
                    h.into_value()
                } else {
                    Value::string(format!("{prefix}{h}"))
                }
            }
            B::EnsureStartsWith => {
                need_args!(1, 1);
                let h = s!();
                let n = self.arg_str(a, 0)?;
                if h.starts_with(&*n) {
                    h.into_value()
                } else {
                    Value::string(format!("{n}{h}"))
                }
            }
            B::EnsureEndsWith => {
                need_args!(1, 1);
                let h = s!();
                let n = self.arg_str(a, 0)?;
                if h.ends_with(&*n) {
                    h.into_value()
                } else {
                    Value::string(format!("{h}{n}"))
                }
            }
            B::LeftPad | B::RightPad => {
                need_args!(1, 2);
                let h = s!();
                let width = (self.arg_num(a, 0)?.int_value() as i64).max(0) as usize;
                let pad = if a.len() > 1 {
                    self.arg_str(a, 1)?.to_string()
                } else {
                    " ".to_string()
                };
                if pad.is_empty() {
                    return Err(self.err(
                        span,
                        format!("?{bare}(...) argument #2 can't be a 0-length string."),
                    ));
                }
                let len = utf16_len(&h);
                if len >= width {
                    h.into_value()
                } else {
                    self.fits((width - len).saturating_mul(pad.len()) + h.len())?;
                    let padc: Vec<char> = pad.chars().collect();
                    let n = width - len;
                    let mut out = String::new();
                    if id == B::LeftPad {
                        for i in 0..n {
                            out.push(padc[i % padc.len()]);
                        }
                        out.push_str(&h);
                    } else {
                        out.push_str(&h);
                        for i in len..width {
                            out.push(padc[i % padc.len()]);
                        }
                    }
                    Value::string(out)
                }
            }
            B::Matches => {
                need_args!(1, 2);
                let h = s!();
                let p = self.arg_str(a, 0)?;
                let flags = if a.len() > 1 {
                    self.arg_str(a, 1)?.to_string()
                } else {
                    String::new()
                };
                let whole_re = self.regex(&format!("^(?:{p})$"), &flags, span)?;
                let re = self.regex(&p, &flags, span)?;
                let groups = match whole_re.captures(&h) {
                    Some(c) => c
                        .iter()
                        .map(|g| Rc::from(g.map_or("", |m| m.as_str())))
                        .collect(),
                    None => Vec::new(),
                };
                let found = re.find_iter(&h).map(|m| Rc::from(m.as_str())).collect();
                Value::Matches(Rc::new(crate::value::Matches {
                    whole: !groups.is_empty(),
                    groups,
                    found,
                }))
            }
            B::JsonString
            | B::JsString
            | B::JString
            | B::Html
            | B::Xhtml
            | B::Xml
            | B::Url
            | B::UrlPath => {
                let h = s!();
                let mut out = String::with_capacity(h.len() + 8);
                match id {
                    B::JsonString => fb::json_string(&h, &mut out),
                    B::JsString => escape::js_string(&h, &mut out),
                    B::JString => escape::j_string(&h, &mut out),
                    B::Html => escape::html(&h, &mut out),
                    B::Xhtml => escape::xhtml(&h, &mut out),
                    B::Xml => escape::xml(&h, &mut out),
                    _ => {
                        let charset = match a.first() {
                            Some(_) => Some(self.arg_str(a, 0)?.to_string()),
                            None => self
                                .settings
                                .url_escaping_charset
                                .clone()
                                .or_else(|| self.settings.output_encoding.clone()),
                        };
                        let Some(charset) = charset else {
                            return Err(self.err(span, "To do URL encoding, the framework that encloses FreeMarker must specify the \"output_encoding\" setting or the \"url_escaping_charset\" setting, so ask the programmers to set them. Or, as a last chance, you can set the url_encoding_charset setting in the template, e.g. <#setting url_escaping_charset='ISO-8859-1'>, or give the charset explicitly to the built-in, e.g. foo?url('ISO-8859-1')."));
                        };
                        let r = if id == B::Url {
                            escape::url(&h, &charset, &mut out)
                        } else {
                            escape::url_path(&h, &charset, &mut out)
                        };
                        r.map_err(|e| self.err(span, e.to_string()))?;
                    }
                }
                Value::string(out)
            }
            B::Number => match &t {
                Value::Num(_) => t.clone(),
                _ => {
                    let h = s!();
                    match fb::parse_number(&h) {
                        Some(n) => Value::Num(n),
                        None => {
                            return Err(self.err(
                                span,
                                format!("Can't convert this string to number: {:?}", &*h),
                            ))
                        }
                    }
                }
            },
            B::Boolean => match &t {
                Value::Bool(_) => t.clone(),
                _ => {
                    let h = s!();
                    // the `boolean_format` words parse too ("yes,no": "yes" is true)
                    let words = self.settings.boolean_format.split_once(',');
                    match &*h {
                        "true" => Value::Bool(true),
                        "false" => Value::Bool(false),
                        h if words.is_some_and(|(yes, _)| yes == h) => Value::Bool(true),
                        h if words.is_some_and(|(_, no)| no == h) => Value::Bool(false),
                        _ => {
                            return Err(self.err(
                                span,
                                format!("Can't convert this string to boolean: {:?}", &*h),
                            ))
                        }
                    }
                }
            },
            B::ChopLinebreak => {
                let h = s!();
                let t2 = h
                    .strip_suffix("\r\n")
                    .or_else(|| h.strip_suffix('\n'))
                    .or_else(|| h.strip_suffix('\r'))
                    .unwrap_or(&h);
                Value::string(t2)
            }
            B::WordList => {
                let h = s!();
                Value::Seq(Rc::new(
                    // java.util.StringTokenizer's default delimiters
                    h.split([' ', '\t', '\n', '\r', '\u{c}'])
                        .filter(|w| !w.is_empty())
                        .map(Value::string)
                        .collect(),
                ))
            }
            B::EvalJson => {
                let h = s!();
                let parsed: serde_json::Value = serde_json::from_str(&h).map_err(|e| {
                    self.err(span, "Failed to \"?eval_json\" string with this error:").with_detail(e.to_string())
                })?;
                json_to_owned(&parsed)
            }
            B::Truncate
            | B::TruncateW
            | B::TruncateC
            | B::TruncateM
            | B::TruncateWM
            | B::TruncateCM => {
                need_args!(1, 3);
                let h = s!();
                let n = self.arg_num(a, 0)?.int_value() as i64;
                if n < 0 {
                    return Err(self.err(span, format!("?{bare}(...) argument #1 can't be negative.")));
                }
                let n = n as usize;
                let term = if a.len() > 1 {
                    Some(self.arg_str(a, 1)?)
                } else {
                    None
                };
                // the third argument: how long the terminator counts as (markup, say)
                let term_len = match a.get(2) {
                    Some(_) => {
                        let len = self.arg_num(a, 2)?.int_value() as i64;
                        if len < 0 {
                            return Err(self.err(
                                span,
                                format!("?{bare}(...) argument #3 can't be negative."),
                            ));
                        }
                        Some(len)
                    }
                    None => None,
                };
                let mode = match id {
                    B::TruncateW | B::TruncateWM => TruncMode::Word,
                    B::TruncateC | B::TruncateCM => TruncMode::Char,
                    _ => TruncMode::Auto,
                };
                Value::string(truncate_fm(&h, n, term.as_deref(), term_len, mode))
            }
            B::Date
            | B::Time
            | B::Datetime
            | B::DateIfUnknown
            | B::TimeIfUnknown
            | B::DatetimeIfUnknown => {
                let kind = match id {
                    B::Date | B::DateIfUnknown => DateKind::Date,
                    B::Time | B::TimeIfUnknown => DateKind::Time,
                    _ => DateKind::DateTime,
                };
                let if_unknown = matches!(
                    id,
                    B::DateIfUnknown | B::TimeIfUnknown | B::DatetimeIfUnknown
                );
                match &t {
                    Value::Date(d) => {
                        if if_unknown && d.kind != DateKind::Unknown {
                            Value::Date(*d)
                        } else if !matches!(d.kind, DateKind::Unknown | DateKind::DateTime)
                            && d.kind != kind
                        {
                            let n = |k: DateKind| match k {
                                DateKind::Date => "DATE",
                                DateKind::Time => "TIME",
                                DateKind::DateTime => "DATETIME",
                                DateKind::Unknown => "UNKNOWN",
                            };
                            return Err(self.err(
                                span,
                                format!("Cannot convert {} to {}", n(d.kind), n(kind)),
                            ));
                        } else {
                            Value::Date(DateValue {
                                epoch_ms: d.epoch_ms,
                                kind,
                            })
                        }
                    }
                    Value::Str(_) | Value::String(_) | Value::Num(_) if !if_unknown => {
                        need_args!(0, 1);
                        let h = s!();
                        let spec = if a.is_empty() {
                            None
                        } else {
                            Some(self.arg_str(a, 0)?)
                        };
                        Value::Date(self.parse_date(&h, kind, spec.as_deref(), span)?)
                    }
                    _ => return Err(self.type_err(&t, tspan, name, "string or date")),
                }
            }
            B::NumberToDatetime | B::NumberToDate | B::NumberToTime => {
                let n = self.num_target(&t, tspan, name)?;
                let kind = match id {
                    B::NumberToDate => DateKind::Date,
                    B::NumberToTime => DateKind::Time,
                    _ => DateKind::DateTime,
                };
                Value::Date(DateValue {
                    epoch_ms: n.long_value(),
                    kind,
                })
            }
            B::Iso | B::IsoUtc | B::IsoLocal => {
                let Value::Date(d) = &t else {
                    return Err(self.type_err(&t, tspan, name, "date"));
                };
                let Some((opts, fixed_zone)) = fb::iso_builtin_options(&to_snake(bare)) else {
                    return Err(self.err(span, format!("Unknown built-in: {name:?}")));
                };
                if d.kind == DateKind::Unknown {
                    return Err(self.err(span, "Can't convert the date to string, because it is not known which parts of the date variable are in use. Use ?date, ?time, or ?datetime built-in, or ?string.<format> or ?string(<format>) built-in with this date."));
                }
                let tz = if fixed_zone {
                    None
                } else {
                    need_args!(1, 1);
                    let z = self.arg_str(a, 0)?;
                    Some(TimeZone::parse(&z).map_err(|e| self.err(a[0].span, e.to_string()))?)
                };
                let tz_ref = tz.as_ref().unwrap_or(&self.time_zone);
                Value::string(fb::format_iso(d.epoch_ms, d.kind, tz_ref, &opts))
            }
            // ----- numbers and booleans -----
            B::C => match &t {
                Value::Num(n) => {
                    let mut s = String::new();
                    fb::write_c(n, &mut s);
                    Value::string(s)
                }
                Value::Bool(b) => Value::Str(if *b { "true" } else { "false" }),
                Value::Str(_) | Value::String(_) => {
                    return Err(self.type_err(&t, tspan, name, "number or boolean"))
                }
                _ => return Err(self.type_err(&t, tspan, name, "number or boolean")),
            },
            B::String => match &t {
                Value::Num(n) => {
                    if a.is_empty() {
                        Value::string(self.number_format.format(n))
                    } else {
                        need_args!(1, 1);
                        let f = self.arg_str(a, 0)?;
                        let s = self
                            .tpl
                            .format_number_with(&f, &self.settings.locale, n)
                            .map_err(|m| self.err(span, m))?;
                        Value::string(s)
                    }
                }
                Value::Bool(b) => {
                    if a.is_empty() {
                        if self.settings.boolean_format == "true,false" {
                            Value::Str(if *b { "true" } else { "false" })
                        } else {
                            Value::string(self.format_bool(*b, span)?)
                        }
                    } else {
                        need_args!(2, 2);
                        let which = if *b { 0 } else { 1 };
                        self.arg_str(a, which)?.into_value()
                    }
                }
                Value::Str(_) | Value::String(_) if args.is_some() => {
                    return Err(self.err(span, format!("For \"...(...)\" callee: Expected a method or function, but this has evaluated to {}:", t.describe())))
                }
                Value::Str(_) | Value::String(_) => t.clone(),
                Value::Date(d) => {
                    need_args!(0, 1);
                    let spec = if a.is_empty() {
                        None
                    } else {
                        Some(self.arg_str(a, 0)?)
                    };
                    Value::string(self.format_date(*d, spec.as_deref(), span)?)
                }
                _ => return Err(self.type_err(&t, tspan, name, "number, date, boolean or string")),
            },
            B::Long if matches!(t, Value::Date(_)) => match &t {
                Value::Date(d) => Value::Num(Number::from_i64(d.epoch_ms)),
                _ => t.clone(),
            },
            B::Round
            | B::Floor
            | B::Ceiling
            | B::Int
            | B::Abs
            | B::Long
            | B::Short
            | B::Byte
            | B::Double
            | B::Float => {
                let n = self.num_target(&t, tspan, name)?;
                Value::Num(match id {
                    B::Round => n.round().map_err(|e| self.err(span, e.to_string()))?,
                    B::Floor => n.floor().map_err(|e| self.err(span, e.to_string()))?,
                    B::Ceiling => n.ceiling().map_err(|e| self.err(span, e.to_string()))?,
                    B::Int | B::Short | B::Byte => n.int(),
                    B::Long => n.long(),
                    B::Abs => n.abs(),
                    B::Double | B::Float => Number::from_f64(n.to_f64()),
                    _ => n,
                })
            }
            B::IsNan => Value::Bool(self.num_target(&t, tspan, name)?.is_nan()),
            B::IsInfinite => Value::Bool(self.num_target(&t, tspan, name)?.is_infinite()),
            B::LowerAbc | B::UpperAbc => {
                let n = self.num_target(&t, tspan, name)?.int_value() as i64;
                if n < 1 {
                    return Err(self.err(
                        span,
                        format!(
                            "The left side operand of ?{name} must be at least 1, but was {n}."
                        ),
                    ));
                }
                let mut n = n;
                let mut s = Vec::new();
                while n > 0 {
                    n -= 1;
                    let base = if id == B::LowerAbc { b'a' } else { b'A' };
                    s.push((base + (n % 26) as u8) as char);
                    n /= 26;
                }
                Value::string(s.into_iter().rev().collect::<String>())
            }
            B::Then => {
                need_args!(2, 2);
                let Value::Bool(b) = t else {
                    return Err(self.type_err(&t, tspan, name, "boolean"));
                };
                return self.eval(&a[if b { 0 } else { 1 }]);
            }
            B::Switch => {
                if a.len() < 2 {
                    return Err(self.err(
                        span,
                        format!(
                            "?{name}(...) expects at least 2 arguments, but has received {}.",
                            a.len()
                        ),
                    ));
                }
                let mut i = 0;
                while i + 1 < a.len() {
                    let c = self.eval_required(&a[i])?;
                    if self.values_equal(&t, &c, a[i].span, "==")? {
                        return self.eval(&a[i + 1]);
                    }
                    i += 2;
                }
                if a.len() % 2 == 1 {
                    return self.eval(&a[a.len() - 1]);
                }
                return Err(self.err(span, "The value before ?switch(case1, value1, case2, value2, ...) didn't match any of the case parameters, and there was no default value parameter (an additional last parameter) eithter."));
            }
            // ----- sequences and hashes -----
            B::Size => {
                if let Some(n) = t.seq_len() {
                    Value::Num(Number::from_i64(n as i64))
                } else if let Value::Range { len: None, .. } = t {
                    // FreeMarker's right-unbounded range claims Java's largest int as its size
                    Value::Num(Number::from_i64(i32::MAX.into()))
                } else if t.is_hash() {
                    Value::Num(Number::from_i64(t.hash_len() as i64))
                } else {
                    return Err(self.type_err(
                        &t,
                        tspan,
                        name,
                        "extended-hash or sequence or extended collection",
                    ));
                }
            }
            B::First => {
                self.seq_target(&t, tspan, name)?;
                return Ok(t.seq_get(0).flatten());
            }
            B::Last => {
                let n = self.seq_target(&t, tspan, name)?;
                if n == 0 {
                    return Ok(None);
                }
                return Ok(t.seq_get(n - 1).flatten());
            }
            B::Join => {
                need_args!(1, 3);
                let n = self.seq_target(&t, tspan, name)?;
                let sep = self.arg_str(a, 0)?;
                let empty = if a.len() > 1 {
                    Some(self.arg_str(a, 1)?)
                } else {
                    None
                };
                let suffix = if a.len() > 2 {
                    Some(self.arg_str(a, 2)?)
                } else {
                    None
                };
                self.steps_for(n)?;
                let mut out = String::new();
                let mut any = false;
                for i in 0..n {
                    let Some(Some(v)) = t.seq_get(i) else {
                        continue;
                    };
                    self.fits(out.len())?;
                    if any {
                        out.push_str(&sep);
                    }
                    let s = match &v {
                        Value::Str(_) | Value::String(_) | Value::Num(_) | Value::Bool(_) => self.to_string_value(&v, tspan, "?join")?,
                        other => return Err(self.err(tspan, format!("\"?join\" failed at index {i} with this error:")).with_detail(format!("Expected a string, number, boolean or date, but the item is {}.", other.describe()))),
                    };
                    out.push_str(&s);
                    any = true;
                }
                if !any {
                    if let Some(e) = empty {
                        out.push_str(&e);
                    }
                } else if let Some(s) = suffix {
                    out.push_str(&s);
                }
                Value::string(out)
            }
            B::SeqContains | B::SeqIndexOf | B::SeqLastIndexOf => {
                need_args!(1, 2);
                let n = self.seq_target(&t, tspan, name)?;
                let needle = self.eval_required(&a[0])?;
                // `?seq_index_of(x, start)` searches from `start` on, `?seq_last_index_of(x,
                // start)` from `start` back; a start beyond either end is clamped (Java's ints).
                let start = match a.get(1) {
                    Some(arg) if id != B::SeqContains => {
                        let v = self.eval_required(arg)?;
                        let n = self.num_target(&v, arg.span, name)?;
                        Some(n.to_f64().clamp(i32::MIN.into(), i32::MAX.into()) as i64)
                    }
                    _ => None,
                };
                self.steps_for(n)?;
                let mut found: Option<usize> = None;
                let len = n as i64;
                let order: Box<dyn Iterator<Item = usize>> = if id == B::SeqLastIndexOf {
                    let last = start.map_or(len - 1, |s| s.min(len - 1));
                    Box::new((0..usize::try_from(last + 1).unwrap_or(0)).rev())
                } else {
                    let first = start.map_or(0, |s| s.max(0));
                    Box::new(usize::try_from(first).unwrap_or(n).min(n)..n)
                };
                for i in order {
                    if let Some(Some(v)) = t.seq_get(i) {
                        if loose_equal(&v, &needle) {
                            found = Some(i);
                            break;
                        }
                    }
                }
                if id == B::SeqContains {
                    Value::Bool(found.is_some())
                } else {
                    Value::Num(Number::from_i64(found.map_or(-1, |i| i as i64)))
                }
            }
            B::WithArgs | B::WithArgsLast => {
                need_args!(1, 1);
                let Value::Macro(m, _) = t else {
                    return Err(self.type_err(
                        &t,
                        tspan,
                        name,
                        "macro, function, directive, or method",
                    ));
                };
                let args = self.eval_required(&a[0])?;
                let with = self.with_args(m, &args, id == B::WithArgsLast, span)?;
                Value::Macro(m, Some(Rc::new(with)))
            }
            // A sequence already (ranges too, unbounded ones included): itself.
            B::Sequence if t.is_seq() || matches!(t, Value::Range { .. }) => t,
            B::Sequence => return Err(self.type_err(&t, tspan, name, "sequence or collection")),
            B::Reverse => {
                let n = self.walked_target(&t, tspan, name)?;
                let mut v: Vec<Value<'a>> = (0..n).filter_map(|i| t.seq_get(i).flatten()).collect();
                v.reverse();
                Value::Seq(Rc::new(v))
            }
            B::Sort | B::SortBy => {
                let n = self.walked_target(&t, tspan, name)?;
                let keys: Vec<Rc<str>> = if id == B::SortBy {
                    need_args!(1, 1);
                    match self.eval_required(&a[0])? {
                        v if v.is_seq() => (0..v.seq_len().unwrap_or(0))
                            .filter_map(|i| v.seq_get(i).flatten())
                            .map(|k| k.as_str().map(Rc::from).unwrap_or_else(|| Rc::from("")))
                            .collect(),
                        v => vec![v.as_str().map(Rc::from).unwrap_or_else(|| Rc::from(""))],
                    }
                } else {
                    Vec::new()
                };
                let items: Vec<Value<'a>> = (0..n).filter_map(|i| t.seq_get(i).flatten()).collect();
                let mut keyed = Vec::with_capacity(items.len());
                for (i, it) in items.into_iter().enumerate() {
                    let mut k = Some(it.clone());
                    for key in &keys {
                        k = k.and_then(|x| if x.is_hash() { x.hash_get(key) } else { None });
                    }
                    let Some(k) = k else {
                        return Err(self.err(span, format!(
                            "?{name} failed at sequence index {i} (0-based): The {:?} subvariable was null or missing.",
                            keys.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(".")
                        )));
                    };
                    keyed.push((k, it));
                }
                // all keys must have the first key's type
                if let Some((first, _)) = keyed.first() {
                    let kind = |v: &Value<'a>| match v {
                        Value::Num(_) => Some("number"),
                        Value::Bool(_) => Some("boolean"),
                        Value::Date(_) => Some("date"),
                        v if v.is_string() => Some("string"),
                        _ => None,
                    };
                    let Some(want) = kind(first) else {
                        return Err(self.err(span, format!(
                            "?{name} failed at sequence index 0 (0-based): Values used for sorting must be numbers, strings, date/times or booleans."
                        )));
                    };
                    if let Some((i, (bad, _))) = keyed.iter().enumerate().find(|(_, (k, _))| kind(k) != Some(want)) {
                        let plural = if want == "boolean" { "booleans" } else if want == "date" { "date/times" } else { &format!("{want}s") };
                        return Err(self.err(span, format!(
                            "?{name} failed at sequence index {i} (0-based): All values in the sequence must be {plural}, because the first value was that. However, the value of the current item isn't a {want} but {}.",
                            bad.describe()
                        )));
                    }
                }
                keyed.sort_by(|(a, _), (b, _)| match (a, b) {
                    (Value::Num(x), Value::Num(y)) => x.compare(y),
                    (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
                    (Value::Date(x), Value::Date(y)) => x.epoch_ms.cmp(&y.epoch_ms),
                    _ => collate(a.as_str().unwrap_or(""), b.as_str().unwrap_or("")),
                });
                Value::Seq(Rc::new(keyed.into_iter().map(|(_, v)| v).collect()))
            }
            B::Chunk => {
                need_args!(1, 2);
                let n = self.walked_target(&t, tspan, name)?;
                let size = self.arg_num(a, 0)?.int_value() as i64;
                if size < 1 {
                    return Err(
                        self.err(span, "The 1st argument to ?chunk(...) must be at least 1.")
                    );
                }
                let fill = if a.len() > 1 {
                    Some(self.eval_required(&a[1])?)
                } else {
                    None
                };
                let items: Vec<Value<'a>> = (0..n).filter_map(|i| t.seq_get(i).flatten()).collect();
                let mut out = Vec::new();
                for ch in items.chunks(size as usize) {
                    let mut c = ch.to_vec();
                    if let Some(f) = &fill {
                        while c.len() < size as usize {
                            c.push(f.clone());
                        }
                    }
                    out.push(Value::Seq(Rc::new(c)));
                }
                Value::Seq(Rc::new(out))
            }
            B::Min | B::Max => {
                let n = self.seq_target(&t, tspan, name)?;
                self.steps_for(n)?;
                let mut best: Option<Value<'a>> = None;
                for i in 0..n {
                    let Some(Some(v)) = t.seq_get(i) else {
                        continue;
                    };
                    best = Some(match best {
                        None => v,
                        Some(b) => {
                            let ord = match (&v, &b) {
                                (Value::Num(x), Value::Num(y)) => x.compare(y),
                                (Value::Date(x), Value::Date(y)) => x.epoch_ms.cmp(&y.epoch_ms),
                                _ => return Err(self.err(span, "Can't compare values of these types. Allowed comparisons are between two numbers, two strings, two dates, or two booleans.")),
                            };
                            if (id == B::Min && ord.is_lt()) || (id == B::Max && ord.is_gt()) {
                                v
                            } else {
                                b
                            }
                        }
                    });
                }
                return Ok(best);
            }
            B::Filter | B::Map | B::TakeWhile | B::DropWhile => {
                need_args!(1, 1);
                let n = self.seq_target(&t, tspan, name)?;
                let f = &a[0];
                let mut out = Vec::new();
                let mut dropping = true;
                for i in 0..n {
                    let item = t.seq_get(i).flatten();
                    let r = self.apply_lambda(f, item.clone(), name).map_err(|e| {
                        if e.kind() == crate::error::ErrorKind::Limit {
                            e
                        } else {
                            self.err(f.span, "Failed to transform element").with_detail(e.message().to_string())
                        }
                    })?;
                    match id {
                        B::Map => {
                            if let Some(r) = r {
                                out.push(r);
                            }
                        }
                        _ => {
                            let keep = match r {
                                Some(Value::Bool(b)) => b,
                                Some(other) => return Err(self.err(f.span, "Failed to transform element").with_detail(format!("The ?{name} lambda must return a boolean, but it returned {}.", other.describe()))),
                                None => return Err(missing_err(self.src(), f.span)),
                            };
                            match id {
                                B::Filter => {
                                    if keep {
                                        out.extend(item);
                                    }
                                }
                                B::TakeWhile => {
                                    if !keep {
                                        break;
                                    }
                                    out.extend(item);
                                }
                                _ => {
                                    if dropping && keep {
                                        continue;
                                    }
                                    dropping = false;
                                    out.extend(item);
                                }
                            }
                        }
                    }
                }
                Value::Seq(Rc::new(out))
            }
            B::Groups => match &t {
                Value::Matches(m) => Value::Seq(Rc::new(
                    m.groups.iter().map(|g| Value::String(g.clone())).collect(),
                )),
                _ => {
                    return Err(self.type_err(&t, tspan, name, "regular expression matcher"))
                }
            },
            B::Keys => {
                if !t.is_hash() {
                    return Err(self.type_err(&t, tspan, name, "extended hash"));
                }
                Value::Seq(Rc::new(t.hash_keys()))
            }
            B::Values => {
                if !t.is_hash() {
                    return Err(self.type_err(&t, tspan, name, "extended hash"));
                }
                match &t {
                    // JSON nulls stay as missing items, as in FreeMarker
                    Value::Json(serde_json::Value::Object(m)) => Value::JsonValues(m),
                    _ => Value::Seq(Rc::new(t.hash_values().into_iter().flatten().collect())),
                }
            }
            // ----- type tests -----
            B::IsString => Value::Bool(t.is_string()),
            B::IsNumber => Value::Bool(matches!(t, Value::Num(_))),
            B::IsBoolean => Value::Bool(matches!(t, Value::Bool(_))),
            B::IsDate | B::IsDateLike => Value::Bool(matches!(t, Value::Date(_))),
            B::IsDateOnly => Value::Bool(matches!(t, Value::Date(d) if d.kind == DateKind::Date)),
            B::IsTime => Value::Bool(matches!(t, Value::Date(d) if d.kind == DateKind::Time)),
            B::IsDatetime => {
                Value::Bool(matches!(t, Value::Date(d) if d.kind == DateKind::DateTime))
            }
            B::IsUnknownDateLike => {
                Value::Bool(matches!(t, Value::Date(d) if d.kind == DateKind::Unknown))
            }
            B::IsNode | B::IsMarkupOutput | B::IsTransform => Value::Bool(false),
            B::IsMethod => Value::Bool(matches!(t, Value::Macro(m, _) if m.is_function)),
            B::IsMacro => Value::Bool(matches!(t, Value::Macro(..))),
            B::IsDirective => Value::Bool(matches!(t, Value::Macro(m, _) if !m.is_function)),
            B::IsHash | B::IsHashEx => Value::Bool(t.is_hash()),
            B::IsSequence | B::IsIndexable => Value::Bool(t.is_seq()),
            B::IsEnumerable => Value::Bool(t.is_seq()),
            B::IsCollection | B::IsCollectionEx => Value::Bool(false),
            _ => return Err(self.err(span, format!("?{name} is not supported here"))),
        };
        Ok(Some(v))
    }

    fn apply_lambda(
        &mut self,
        f: &'a Expr,
        item: Option<Value<'a>>,
        name: Shown<'_>,
    ) -> R<Option<Value<'a>>> {
        match &f.kind {
            ExprKind::Lambda(param, body) => {
                let frame = self.cur;
                self.frames[frame].loops.push(crate::render::Loop {
                    name: param,
                    value_name: None,
                    item,
                    value: None,
                    index: 0,
                    has_next: false,
                    is_nested_scope: true,
                });
                let r = self.eval(body);
                self.frames[frame].loops.pop();
                r
            }
            _ => {
                let fv = self.eval_required(f)?;
                match fv {
                    Value::Macro(m, _) if m.is_function => {
                        let locals = match m.params.first() {
                            Some((p, _)) => vec![(Rc::<str>::from(p.as_ref()), item)],
                            None => Vec::new(),
                        };
                        let saved = self.out.len();
                        let r = self.invoke(m, locals, None, &[], f.span)?;
                        self.truncate_out(saved);
                        Ok(r)
                    }
                    other => Err(self.err(f.span, format!("?{name} argument must be a lambda expression (like x -> x.price > 10) or a function, but it was {}.", other.describe()))),
                }
            }
        }
    }

    /// The string form of a built-in's target (strings, numbers and booleans convert like `${}` would).
    fn builtin_str(&self, t: &Value<'a>, span: Span, name: Shown<'_>) -> R<Text<'a>> {
        match t {
            Value::Str(s) => Ok(Text::Borrowed(s)),
            Value::String(s) => Ok(Text::Shared(s.clone())),
            Value::Num(_) | Value::Bool(_) => self
                .to_string_value(t, span, &format!("?{name}"))
                .map(Text::Shared),
            other => Err(self.err(span, format!(
                "For \"?{name}\" left-hand operand: Expected a string or something automatically convertible to string (number, date or boolean), but this has evaluated to {}:",
                other.describe()
            ))),
        }
    }

    /// The arguments `?with_args(args)` binds to `m`: a sequence's items as positional
    /// arguments, a hash's entries as named ones (not for a function, as in FreeMarker).
    fn with_args(
        &mut self,
        m: &crate::ast::MacroDef,
        args: &Value<'a>,
        last: bool,
        span: Span,
    ) -> R<crate::value::WithArgs<'a>> {
        let bare = if last { "with_args_last" } else { "with_args" };
        let mut with = crate::value::WithArgs {
            positional: Vec::new(),
            named: Vec::new(),
            last,
        };
        if args.is_seq() {
            let n = args.seq_len().unwrap_or(0);
            self.steps_for(n)?;
            self.fits(n.saturating_mul(crate::render::VALUE_BYTES))?;
            with.positional = (0..n).map(|i| args.seq_get(i).flatten()).collect();
        } else if args.is_hash() {
            if m.is_function {
                return Err(self.err(
                    span,
                    format!("When applied on a function, ?{bare} can't have a hash argument. Use a sequence argument."),
                ));
            }
            let keys = args.hash_keys();
            self.steps_for(keys.len())?;
            let keys = keys
                .iter()
                .map(|k| Rc::from(k.as_str().unwrap_or_default()));
            with.named = keys.zip(args.hash_values()).collect();
        } else {
            return Err(self.err(
                span,
                format!(
                    "?{bare}(...) expects an extended hash or sequence as argument #1, but received {}.",
                    args.describe()
                ),
            ));
        }
        Ok(with)
    }

    fn num_target(&self, t: &Value<'a>, span: Span, name: Shown<'_>) -> R<Number> {
        match t {
            Value::Num(n) => Ok(n.clone()),
            other => Err(self.type_err(other, span, name, "number")),
        }
    }

    /// [`Env::seq_target`] for a built-in that copies the sequence: one step per item, and
    /// room for the copy checked before it is made (a range has no items in memory yet).
    fn walked_target(&mut self, t: &Value<'a>, span: Span, name: Shown<'_>) -> R<usize> {
        let n = self.seq_target(t, span, name)?;
        self.steps_for(n)?;
        self.fits(n.saturating_mul(crate::render::VALUE_BYTES))?;
        Ok(n)
    }

    fn seq_target(&self, t: &Value<'a>, span: Span, name: Shown<'_>) -> R<usize> {
        match t.seq_len() {
            Some(n) if t.is_seq() => Ok(n),
            _ if matches!(t, Value::Range { len: None, .. }) => Err(self.err(
                span,
                format!("?{name} can't be applied on a right-unbounded range"),
            )),
            _ if name.starts_with("filter")
                || name.starts_with("map")
                || name.starts_with("take_while")
                || name.starts_with("drop_while")
                || name.starts_with("join")
                || name.starts_with("seq_") =>
            {
                Err(self.type_err(t, span, name, "sequence or collection"))
            }
            _ => Err(self.type_err(t, span, name, "sequence")),
        }
    }

    fn type_err(&self, t: &Value<'a>, span: Span, name: Shown<'_>, expected: &str) -> Error {
        let article = if expected.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        // FreeMarker names an ordinary built-in without its call ("?join"): the call is a separate
        // node there. Built-ins whose arguments are parsed with them ("?map(...)") keep it.
        let shown = if name.call && PARSED_WITH_ARGUMENTS.contains(&name.name) {
            name.to_string()
        } else {
            name.name.to_owned()
        };
        self.err(span, format!("For \"?{shown}\" left-hand operand: Expected {article} {expected}, but this has evaluated to {}:", t.describe()))
    }

    fn regex(&self, pattern: &str, flags: &str, span: Span) -> R<regex::Regex> {
        let mut b = regex::RegexBuilder::new(pattern);
        b.case_insensitive(flags.contains('i'));
        b.multi_line(flags.contains('m'));
        b.dot_matches_new_line(flags.contains('s'));
        b.size_limit(1 << 20);
        b.build()
            .map_err(|e| self.err(span, format!("Malformed regular expression: {e}")))
    }

    fn replace(&self, h: &str, from: &str, to: &str, flags: &str, span: Span) -> R<String> {
        let first = flags.contains('f');
        if flags.contains('r') || flags.contains('i') {
            let pat = if flags.contains('r') {
                from.to_string()
            } else {
                regex::escape(from)
            };
            let re = self.regex(&pat, flags, span)?;
            let rep = if flags.contains('r') {
                java_replacement(to)
            } else {
                to.replace('$', "$$")
            };
            return Ok(if first {
                re.replacen(h, 1, rep.as_str()).into_owned()
            } else {
                re.replace_all(h, rep.as_str()).into_owned()
            });
        }
        if from.is_empty() {
            if first {
                return Ok(format!("{to}{h}"));
            }
            let mut out = String::with_capacity(h.len() * 2 + to.len());
            out.push_str(to);
            for c in h.chars() {
                out.push(c);
                out.push_str(to);
            }
            return Ok(out);
        }
        Ok(if first {
            h.replacen(from, to, 1)
        } else {
            h.replace(from, to)
        })
    }
}

/// Java regex replacement (`$1`, `\$`) to the `regex` crate's syntax (`${1}`, `$$`).
fn java_replacement(to: &str) -> String {
    let mut out = String::new();
    let mut it = to.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\\' => {
                if let Some(n) = it.next() {
                    if n == '$' {
                        out.push_str("$$");
                    } else {
                        out.push(n);
                    }
                }
            }
            '$' => {
                let mut num = String::new();
                while let Some(d) = it.peek().filter(|d| d.is_ascii_digit()) {
                    num.push(*d);
                    it.next();
                }
                out.push_str(&format!("${{{num}}}"));
            }
            c => out.push(c),
        }
    }
    out
}

/// `?seq_contains` equality: like `==` but never fails on mixed types.
fn loose_equal(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::Num(x), Value::Num(y)) => x.compare(y).is_eq(),
        (Value::Date(x), Value::Date(y)) => x.epoch_ms == y.epoch_ms && x.kind == y.kind,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (x, y) if x.is_string() && y.is_string() => x.as_str() == y.as_str(),
        _ => false,
    }
}

/// String order for `?sort`, approximating Java's `Collator` for en_US: punctuation before digits before
/// letters; letters compare without accents and case first, then unaccented before accented, then lower
/// case before upper case.
fn collate(a: &str, b: &str) -> std::cmp::Ordering {
    let primary = |s: &str| -> Vec<(u8, char)> {
        s.chars()
            .flat_map(fold_accent)
            .flat_map(char::to_lowercase)
            .map(|c| {
                let class = if c.is_alphabetic() {
                    2
                } else if c.is_numeric() {
                    1
                } else {
                    0
                };
                (class, c)
            })
            .collect()
    };
    let secondary = |s: &str| -> String { s.chars().flat_map(char::to_lowercase).collect() };
    let tertiary = |s: &str| -> Vec<bool> { s.chars().map(char::is_uppercase).collect() };
    primary(a)
        .cmp(&primary(b))
        .then_with(|| secondary(a).cmp(&secondary(b)))
        .then_with(|| tertiary(a).cmp(&tertiary(b)))
}

/// The base letter(s) of a Latin-1 accented letter.
fn fold_accent(c: char) -> Vec<char> {
    let base = match c {
        'À'..='Å' => "A",
        'Æ' => "AE",
        'Ç' => "C",
        'È'..='Ë' => "E",
        'Ì'..='Ï' => "I",
        'Ð' => "D",
        'Ñ' => "N",
        'Ò'..='Ö' | 'Ø' => "O",
        'Ù'..='Ü' => "U",
        'Ý' => "Y",
        'Þ' => "TH",
        'ß' => "ss",
        'à'..='å' => "a",
        'æ' => "ae",
        'ç' => "c",
        'è'..='ë' => "e",
        'ì'..='ï' => "i",
        'ð' => "d",
        'ñ' => "n",
        'ò'..='ö' | 'ø' => "o",
        'ù'..='ü' => "u",
        'ý' | 'ÿ' => "y",
        'þ' => "th",
        _ => return vec![c],
    };
    base.chars().collect()
}

/// How `?truncate*` picks the cut point.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TruncMode {
    Auto,
    Word,
    Char,
}

/// FreeMarker's default truncation (`DefaultTruncateBuiltinAlgorithm.ASCII_INSTANCE`): terminator `[...]`,
/// a space at word boundaries, word-boundary cuts only when they keep at least 75% of the length.
fn truncate_fm(
    s: &str,
    max_len: usize,
    term: Option<&str>,
    term_len: Option<i64>,
    mode: TruncMode,
) -> String {
    // Java strings: lengths and cut points count UTF-16 units
    let c: Vec<u16> = s.encode_utf16().collect();
    if c.len() <= max_len {
        return s.to_string();
    }
    let term = term.unwrap_or("[...]");
    let term_len = term_len.unwrap_or(term.encode_utf16().count() as i64);
    let removes_dots = term.starts_with('.') || term.starts_with('\u{2026}');
    let unit = |i: i64| char::from_u32(c[i as usize] as u32).unwrap_or('\u{fffd}');
    let ws = |i: i64| crate::format::escape::is_java_whitespace(unit(i));
    let is_dot = |i: i64| unit(i) == '.' || unit(i) == '\u{2026}';
    let len = c.len() as i64;
    let word_end = |i: i64| i + 1 >= len || ws(i + 1);
    let max = max_len as i64;
    let cb_initial = max - term_len - 1;
    let skip_ws = |mut i: i64| {
        while i >= 0 && ws(i) {
            i -= 1;
        }
        i
    };
    let mut cb = skip_ws(cb_initial);
    let cut: Option<String> = 'done: {
        if cb < 0 {
            break 'done None;
        }
        if mode != TruncMode::Char {
            let wtl = term_len + 1;
            let min_idx = if mode == TruncMode::Auto {
                (((max as f64) * 0.75).ceil() as i64 - wtl - 1).max(0)
            } else {
                0
            };
            let mut wb = (max - wtl - 1).min(cb);
            let mut following_ws = if len > wb + 1 { ws(wb + 1) } else { true };
            let mut found = None;
            while wb >= min_idx {
                let cur_ws = ws(wb);
                if !cur_ws && following_ws {
                    let mut out = crate::render::utf16_to_string(&c[..(wb + 1) as usize]);
                    out.push(' ');
                    found = Some(out);
                    break;
                }
                following_ws = cur_ws;
                wb -= 1;
            }
            if found.is_some() || mode == TruncMode::Word {
                break 'done found;
            }
        }
        if cb == cb_initial && word_end(cb) {
            cb -= 1;
            if cb < 0 {
                break 'done None;
            }
        }
        loop {
            cb = skip_ws(cb);
            if cb < 0 {
                break 'done None;
            }
            if is_dot(cb) && !word_end(cb) && removes_dots {
                while cb >= 0 && is_dot(cb) {
                    cb -= 1;
                }
                if cb < 0 {
                    break 'done None;
                }
                continue;
            }
            break;
        }
        let mut out = crate::render::utf16_to_string(&c[..(cb + 1) as usize]);
        if word_end(cb) {
            out.push(' ');
        }
        Some(out)
    };
    match cut {
        Some(mut t) if !t.is_empty() => {
            t.push_str(term);
            t
        }
        _ => term.to_string(),
    }
}

/// Converts parsed JSON (from `?eval_json`) to owned template values.
fn json_to_owned<'a>(j: &serde_json::Value) -> Value<'a> {
    match j {
        serde_json::Value::Null => Value::Str(""),
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Num(Number::from_json(n)),
        serde_json::Value::String(s) => Value::string(s.as_str()),
        serde_json::Value::Array(a) => Value::Seq(Rc::new(a.iter().map(json_to_owned).collect())),
        serde_json::Value::Object(m) => Value::Hash(Rc::new(
            m.iter()
                .map(|(k, v)| (Rc::from(k.as_str()), json_to_owned(v)))
                .collect(),
        )),
    }
}

/// A built-in's name as FreeMarker's messages show it: `name`, or `name(...)` when it was called
/// with arguments. Only formatted when a message needs it.
/// Built-ins whose arguments FreeMarker parses as part of the built-in (lambdas, `?then`, `?switch`).
const PARSED_WITH_ARGUMENTS: [&str; 6] = [
    "then",
    "switch",
    "map",
    "filter",
    "take_while",
    "drop_while",
];

#[derive(Clone, Copy)]
pub(crate) struct Shown<'n> {
    name: &'n str,
    call: bool,
}

impl Shown<'_> {
    /// Whether the built-in's name starts with `prefix` (which has no `(`).
    fn starts_with(&self, prefix: &str) -> bool {
        self.name.starts_with(prefix)
    }
}

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)?;
        if self.call {
            f.write_str("(...)")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

/// The string a built-in reads from its target: borrowed from the template or the input when it is
/// there (no copy), shared otherwise.
pub(crate) enum Text<'a> {
    Borrowed(&'a str),
    Shared(Rc<str>),
}

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Text::Borrowed(s) => s,
            Text::Shared(s) => s,
        }
    }
}

impl std::fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self)
    }
}

impl<'a> Text<'a> {
    /// The string as a template value (borrowed text stays borrowed).
    fn into_value(self) -> Value<'a> {
        match self {
            Text::Borrowed(s) => Value::Str(s),
            Text::Shared(s) => Value::String(s),
        }
    }
}

impl From<Text<'_>> for Rc<str> {
    fn from(t: Text<'_>) -> Rc<str> {
        match t {
            Text::Borrowed(s) => s.into(),
            Text::Shared(s) => s,
        }
    }
}

/// Splits like Java's `Pattern.split(input)` (limit 0), which FreeMarker's `?split(re, "r")` uses: a
/// zero-width match at the start gives no leading empty piece, trailing empty pieces are dropped, and an
/// input without any match (the empty string included) is returned whole.
fn java_regex_split<'h>(re: &regex::Regex, h: &'h str) -> Vec<&'h str> {
    let mut parts = Vec::new();
    let mut index = 0;
    for m in re.find_iter(h) {
        if index == 0 && m.start() == 0 && m.end() == 0 {
            continue;
        }
        parts.push(&h[index..m.start()]);
        index = m.end();
    }
    if index == 0 {
        return vec![h];
    }
    parts.push(&h[index..]);
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts
}

/// The address of the block a built value lives in (None for borrowed and inline values).
fn block_of(v: &Value<'_>) -> Option<usize> {
    match v {
        Value::String(s) => Some(s.as_ptr() as usize),
        Value::Seq(v) => Some(Rc::as_ptr(v) as usize),
        Value::Hash(h) => Some(Rc::as_ptr(h) as usize),
        _ => None,
    }
}

/// The bytes a built value counts for against the memory limit.
fn built_bytes(v: &Value<'_>) -> usize {
    match v {
        Value::String(s) => s.len(),
        Value::Seq(v) => v.len().saturating_mul(crate::render::VALUE_BYTES),
        Value::Hash(h) => h.len().saturating_mul(crate::render::ENTRY_BYTES),
        _ => 0,
    }
}

/// The most bytes `h?replace(from, to, flags)` can produce: each character (or each occurrence
/// of a literal `from`) replaced by `to`. Cheap and generous: it only has to stop the
/// multiplications (`"x"?left_pad(1000)?replace("", big)`) before they allocate.
fn replaced_bound(h: &str, from: &str, to: &str, flags: &str) -> usize {
    let sites = if flags.contains('r') || flags.contains('i') || from.is_empty() {
        h.len() + 1
    } else {
        h.matches(from).count()
    };
    h.len().saturating_add(sites.saturating_mul(to.len()))
}
