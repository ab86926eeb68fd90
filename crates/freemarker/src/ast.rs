//! The parsed template: expressions and directives with byte spans into the source.

use crate::builtins::BuiltinId;
use crate::format_bridge::Number;

/// A byte range `start..end` in the template source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start,
            end: other.end,
        }
    }
}

/// An expression with its source span. Cloned where `<#escape>` writes its expression around
/// an interpolation's.
#[derive(Debug, Clone)]
pub(crate) struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeKind {
    /// `a..b` (inclusive end)
    Inclusive,
    /// `a..<b` / `a..!b`
    Exclusive,
    /// `a..*n`
    Length,
    /// `a..`
    Unbounded,
}

/// Where a `.key` was found last time in a JSON object. Events share their key order, so the next
/// lookup usually compares one key instead of scanning. Relaxed atomics keep templates `Sync`; a stale
/// hint only costs the ordinary search.
#[derive(Debug, Default)]
pub(crate) struct KeyHint(std::sync::atomic::AtomicU32);

impl Clone for KeyHint {
    fn clone(&self) -> Self {
        let hint = self.0.load(std::sync::atomic::Ordering::Relaxed);
        KeyHint(std::sync::atomic::AtomicU32::new(hint))
    }
}

impl KeyHint {
    pub fn get(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::Relaxed) as usize
    }
    pub fn set(&self, i: usize) {
        self.0.store(i as u32, std::sync::atomic::Ordering::Relaxed)
    }
}

/// One `.key` step of an [`ExprKind::Path`]; `span` covers the path up to and including this key.
#[derive(Debug, Clone)]
pub(crate) struct PathStep {
    pub key: Box<str>,
    pub hint: KeyHint,
    pub span: Span,
}

/// A part of a string literal with `${...}` inside.
#[derive(Debug, Clone)]
pub(crate) enum StrPart {
    Lit(Box<str>),
    Interp(Expr),
}

#[derive(Debug, Clone)]
pub(crate) enum ExprKind {
    Str(Box<str>),
    Interpolated(Vec<StrPart>),
    Num(Number),
    Bool(bool),
    Var(Box<str>),
    /// `.name` special variables (`.now`, `.lang`, `.locale`, ...).
    Special(Box<str>),
    Dot(Box<Expr>, Box<str>, KeyHint),
    /// `root.k1.k2...`: a variable followed by `.key` steps (the common `input.user_properties.email`).
    Path {
        root: Box<str>,
        root_span: Span,
        steps: Vec<PathStep>,
    },
    Index(Box<Expr>, Box<Expr>),
    Builtin {
        target: Box<Expr>,
        id: BuiltinId,
        name: Box<str>,
        args: Option<Vec<Expr>>,
    },
    Call(Box<Expr>, Vec<Expr>),
    Default(Box<Expr>, Option<Box<Expr>>),
    Exists(Box<Expr>),
    Paren(Box<Expr>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Pos(Box<Expr>),
    Arith(BinOp, Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Range(RangeKind, Box<Expr>, Option<Box<Expr>>),
    List(Vec<Expr>),
    Hash(Vec<(Expr, Expr)>),
    Lambda(Box<str>, Box<Expr>),
}

impl Expr {
    /// Calls `f` on each expression directly inside this one (a walk's step, for rewrites).
    pub fn children_mut(&mut self, f: &mut impl FnMut(&mut Expr)) {
        match &mut self.kind {
            ExprKind::Str(_)
            | ExprKind::Num(_)
            | ExprKind::Bool(_)
            | ExprKind::Var(_)
            | ExprKind::Special(_)
            | ExprKind::Path { .. } => {}
            ExprKind::Interpolated(parts) => {
                for part in parts {
                    if let StrPart::Interp(e) = part {
                        f(e);
                    }
                }
            }
            ExprKind::Dot(target, _, _)
            | ExprKind::Exists(target)
            | ExprKind::Paren(target)
            | ExprKind::Not(target)
            | ExprKind::Neg(target)
            | ExprKind::Pos(target)
            | ExprKind::Lambda(_, target) => f(target),
            ExprKind::Index(a, b)
            | ExprKind::Arith(_, a, b)
            | ExprKind::Cmp(_, a, b)
            | ExprKind::And(a, b)
            | ExprKind::Or(a, b) => {
                f(a);
                f(b);
            }
            ExprKind::Builtin { target, args, .. } => {
                f(target);
                args.iter_mut().flatten().for_each(f);
            }
            ExprKind::Call(callee, args) => {
                f(callee);
                args.iter_mut().for_each(f);
            }
            ExprKind::Default(target, other) | ExprKind::Range(_, target, other) => {
                f(target);
                if let Some(other) = other {
                    f(other);
                }
            }
            ExprKind::List(items) => items.iter_mut().for_each(f),
            ExprKind::Hash(pairs) => {
                for (key, item) in pairs {
                    f(key);
                    f(item);
                }
            }
        }
    }
}

/// How an assignment changes its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AssignOp {
    Set,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Inc,
    Dec,
}

/// Where `<#assign>`, `<#local>` and `<#global>` put a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Namespace,
    Local,
    Global,
}

#[derive(Debug)]
pub(crate) struct Assignment {
    pub name: Box<str>,
    pub op: AssignOp,
    pub value: Option<Expr>,
    pub span: Span,
}

/// A `<#macro>` or `<#function>` definition.
#[derive(Debug)]
pub(crate) struct MacroDef {
    pub name: Box<str>,
    pub is_function: bool,
    pub params: Vec<(Box<str>, Option<Expr>)>,
    pub catch_all: Option<Box<str>>,
    pub body: Vec<Node>,
}

/// One branch of `<#if>`: a condition (none for `<#else>`) and its content.
#[derive(Debug)]
pub(crate) struct Branch {
    pub cond: Option<Expr>,
    pub body: Vec<Node>,
}

/// The loop variables of `<#list ... as x>`, `as k, v` or `<#items as ...>`.
#[derive(Debug, Clone)]
pub(crate) struct LoopVars {
    pub first: Box<str>,
    pub value: Option<Box<str>>,
}

#[derive(Debug)]
pub(crate) enum Node {
    /// Static text, and the offset in the source where its first part starts.
    Text(Box<str>, u32),
    Interp(Expr),
    /// `#{expr}` / `#{expr; m1M3}`: numbers only, with optional min/max fraction digits.
    LegacyInterp {
        expr: Expr,
        frac: Option<(usize, usize)>,
    },
    If(Vec<Branch>),
    List {
        seq: Expr,
        vars: Option<LoopVars>,
        body: Vec<Node>,
        else_body: Option<Vec<Node>>,
        span: Span,
    },
    Items {
        vars: LoopVars,
        body: Vec<Node>,
        span: Span,
    },
    Sep(Vec<Node>),
    Break,
    Continue,
    Switch {
        value: Expr,
        cases: Vec<(Option<Expr>, Vec<Node>)>,
    },
    Assign {
        scope: Scope,
        items: Vec<Assignment>,
    },
    Capture {
        scope: Scope,
        name: Box<str>,
        body: Vec<Node>,
    },
    Setting {
        name: Box<str>,
        value: Expr,
        span: Span,
    },
    Attempt {
        body: Vec<Node>,
        recover: Vec<Node>,
    },
    MacroDef(std::sync::Arc<MacroDef>),
    Nested {
        args: Vec<Expr>,
        span: Span,
    },
    Return(Option<Expr>),
    Call {
        callee: Expr,
        named: Vec<(Box<str>, Expr)>,
        positional: Vec<Expr>,
        loop_vars: Vec<Box<str>>,
        body: Option<std::sync::Arc<Vec<Node>>>,
        span: Span,
    },
    Compress(Vec<Node>),
    Stop(Option<Expr>, Span),
}
