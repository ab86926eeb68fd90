//! `<#escape x as expr>`: FreeMarker rewrites every `${...}` inside the block at parse time,
//! putting the interpolated expression where `expr` names `x` (`${a}` becomes `${a?html}`).
//! The rewrite is of the tree, not of the text, so `x!"d"` defaults exactly as `a!"d"` would,
//! and an escape nested in another is the outer one's expression around the inner one's.

use crate::ast::{Expr, ExprKind};

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
        _ => e.children_mut(&mut |child| replace(child, var, value)),
    }
}

/// How many expression nodes `e` has.
pub(crate) fn size(e: &mut Expr) -> usize {
    let mut n = 1;
    e.children_mut(&mut |child| n += size(child));
    n
}
