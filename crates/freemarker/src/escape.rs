//! `<#escape x as expr>`: FreeMarker rewrites every `${...}` inside the block at parse time,
//! putting the interpolated expression where `expr` names `x` (`${a}` becomes `${a?html}`).
//! The rewrite is of the tree, not of the text, so `x!"d"` defaults exactly as `a!"d"` would,
//! and an escape nested in another is the outer one's expression around the inner one's.

use crate::ast::{Expr, ExprKind, StrPart};

/// An open `<#escape>`: its variable and its expression (outer escapes already applied).
#[derive(Debug)]
pub(crate) struct Escape {
    pub var: Box<str>,
    pub expr: Expr,
}

impl Escape {
    /// `value` escaped: a copy of the escape's expression with `value` where it names the
    /// variable.
    pub fn apply(&self, value: &Expr) -> Expr {
        let mut escaped = self.expr.clone();
        replace(&mut escaped, &self.var, value);
        escaped
    }
}

/// Puts `value` wherever `e` reads the variable `var`.
fn replace(e: &mut Expr, var: &str, value: &Expr) {
    match &mut e.kind {
        ExprKind::Var(name) if &**name == var => *e = value.clone(),
        ExprKind::Path { root, steps, .. } if &**root == var => {
            // `x.a.b`: the value, then each step as a `.key` on it
            let mut path = value.clone();
            for step in steps.drain(..) {
                path = Expr {
                    span: step.span,
                    kind: ExprKind::Dot(Box::new(path), step.key, step.hint),
                };
            }
            *e = path;
        }
        // A lambda's own parameter hides the escape's variable.
        ExprKind::Lambda(param, _) if &**param == var => {}
        _ => children(e, &mut |child| replace(child, var, value)),
    }
}

/// How many expression nodes `e` has.
pub(crate) fn size(e: &mut Expr) -> usize {
    let mut n = 1;
    children(e, &mut |child| n += size(child));
    n
}

/// Calls `f` on each expression directly inside `e`.
fn children(e: &mut Expr, f: &mut impl FnMut(&mut Expr)) {
    match &mut e.kind {
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
