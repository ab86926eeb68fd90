//! Which top-level fields of `input` a template can read, so a caller rendering many records
//! (`webhook-sink render`) may parse only those and skip the rest of each JSON line unbuilt.
//!
//! The analysis is syntactic and conservative: `input.name` and `input["name"]` name a field
//! (its whole subtree is kept), and `input.name.key...` names a key of it (only the keys so named
//! are kept, when the template reads the field no other way); any other use of `input` (bare, `input[expr]`, `input?keys`, passed
//! to a macro, assigned), and any special variable that can reach the data model (`.data_model`,
//! `.vars`, ...), means every field. Every node and expression kind is matched without a
//! wildcard, so a new one cannot be missed silently.

use crate::ast::{Expr, ExprKind, MacroDef, Node, StrPart};

/// The name the record is bound to.
const INPUT: &str = "input";

/// A top-level field of `input` that a template reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputField {
    pub name: String,
    /// The keys it reads of the field's value when it reads it only as `input.name.key`, in
    /// first-use order; `None`: it may read all of it. A value that is not a hash is read whole.
    pub keys: Option<Vec<String>>,
}

/// What a template reads of `input`.
#[derive(Debug, Default)]
struct Reads {
    fields: Vec<InputField>,
    whole: bool,
}

impl Reads {
    /// The template reads all of field `name`.
    fn field(&mut self, name: &str) {
        match self.fields.iter_mut().find(|f| f.name == name) {
            Some(field) => field.keys = None,
            None => self.fields.push(InputField {
                name: name.to_owned(),
                keys: None,
            }),
        }
    }

    /// The template reads key `key` of field `name`.
    fn key(&mut self, name: &str, key: &str) {
        match self.fields.iter_mut().find(|f| f.name == name) {
            Some(InputField {
                keys: Some(keys), ..
            }) => {
                if !keys.iter().any(|k| k == key) {
                    keys.push(key.to_owned());
                }
            }
            Some(_) => {}
            None => self.fields.push(InputField {
                name: name.to_owned(),
                keys: Some(vec![key.to_owned()]),
            }),
        }
    }

    fn nodes(&mut self, nodes: &[Node]) {
        for node in nodes {
            self.node(node);
        }
    }

    fn node(&mut self, node: &Node) {
        match node {
            Node::Text(..) | Node::Break | Node::Continue => {}
            Node::Interp(e) | Node::LegacyInterp { expr: e, .. } => self.expr(e),
            Node::If(branches) => {
                for branch in branches {
                    if let Some(cond) = &branch.cond {
                        self.expr(cond);
                    }
                    self.nodes(&branch.body);
                }
            }
            Node::List {
                seq,
                body,
                else_body,
                ..
            } => {
                self.expr(seq);
                self.nodes(body);
                if let Some(body) = else_body {
                    self.nodes(body);
                }
            }
            Node::Items { body, .. } | Node::Sep(body) | Node::Compress(body) => self.nodes(body),
            Node::Capture { body, .. } => self.nodes(body),
            Node::Switch { value, cases } => {
                self.expr(value);
                for (case, body) in cases {
                    if let Some(case) = case {
                        self.expr(case);
                    }
                    self.nodes(body);
                }
            }
            Node::Assign { items, .. } => {
                for item in items {
                    if let Some(value) = &item.value {
                        self.expr(value);
                    }
                }
            }
            Node::Setting { value, .. } => self.expr(value),
            Node::Attempt { body, recover } => {
                self.nodes(body);
                self.nodes(recover);
            }
            Node::MacroDef(def) => self.macro_def(def),
            Node::Nested { args, .. } => self.exprs(args),
            Node::Return(value) | Node::Stop(value, _) => {
                if let Some(value) = value {
                    self.expr(value);
                }
            }
            Node::Call {
                callee,
                named,
                positional,
                body,
                ..
            } => {
                self.expr(callee);
                for (_, arg) in named {
                    self.expr(arg);
                }
                self.exprs(positional);
                if let Some(body) = body {
                    self.nodes(body);
                }
            }
        }
    }

    fn macro_def(&mut self, def: &MacroDef) {
        for (_, default) in &def.params {
            if let Some(default) = default {
                self.expr(default);
            }
        }
        self.nodes(&def.body);
    }

    fn exprs(&mut self, exprs: &[Expr]) {
        for e in exprs {
            self.expr(e);
        }
    }

    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Str(_) | ExprKind::Num(_) | ExprKind::Bool(_) => {}
            ExprKind::Var(name) => {
                if &**name == INPUT {
                    self.whole = true;
                }
            }
            ExprKind::Special(name) => {
                if !is_detached_special(name) {
                    self.whole = true;
                }
            }
            ExprKind::Path { root, steps, .. } => {
                if &**root == INPUT {
                    match steps.as_slice() {
                        [field, key, ..] if &*field.key != "*" && &*key.key != "*" => {
                            self.key(&field.key, &key.key)
                        }
                        [field, ..] if &*field.key != "*" => self.field(&field.key),
                        _ => self.whole = true,
                    }
                }
            }
            ExprKind::Dot(target, key, _) => match &target.kind {
                ExprKind::Var(name) if &**name == INPUT && &**key != "*" => self.field(key),
                _ => self.expr(target),
            },
            ExprKind::Index(target, index) => {
                match (&target.kind, &index.kind) {
                    (ExprKind::Var(name), ExprKind::Str(key)) if &**name == INPUT => {
                        self.field(key)
                    }
                    _ => self.expr(target),
                }
                self.expr(index);
            }
            ExprKind::Interpolated(parts) => {
                for part in parts {
                    match part {
                        StrPart::Lit(_) => {}
                        StrPart::Interp(e) => self.expr(e),
                    }
                }
            }
            ExprKind::Builtin { target, args, .. } => {
                self.expr(target);
                if let Some(args) = args {
                    self.exprs(args);
                }
            }
            ExprKind::Call(callee, args) => {
                self.expr(callee);
                self.exprs(args);
            }
            ExprKind::Default(value, fallback) => {
                self.expr(value);
                if let Some(fallback) = fallback {
                    self.expr(fallback);
                }
            }
            ExprKind::Exists(e)
            | ExprKind::Paren(e)
            | ExprKind::Not(e)
            | ExprKind::Neg(e)
            | ExprKind::Pos(e)
            | ExprKind::Lambda(_, e) => self.expr(e),
            ExprKind::Arith(_, a, b)
            | ExprKind::Cmp(_, a, b)
            | ExprKind::And(a, b)
            | ExprKind::Or(a, b) => {
                self.expr(a);
                self.expr(b);
            }
            ExprKind::Range(_, from, to) => {
                self.expr(from);
                if let Some(to) = to {
                    self.expr(to);
                }
            }
            ExprKind::List(items) => self.exprs(items),
            ExprKind::Hash(pairs) => {
                for (key, value) in pairs {
                    self.expr(key);
                    self.expr(value);
                }
            }
        }
    }
}

/// Special variables that cannot reach the data model (the rest may: `.data_model`, `.vars`,
/// `.globals`, `.main`, `.namespace`, `.locals`, and any this list does not know).
fn is_detached_special(name: &str) -> bool {
    matches!(
        name,
        "lang"
            | "locale"
            | "locale_object"
            | "localeObject"
            | "version"
            | "output_encoding"
            | "outputEncoding"
            | "url_escaping_charset"
            | "urlEscapingCharset"
            | "template_name"
            | "templateName"
            | "current_template_name"
            | "currentTemplateName"
            | "main_template_name"
            | "mainTemplateName"
            | "caller_template_name"
            | "callerTemplateName"
            | "now"
            | "output_format"
            | "outputFormat"
            | "auto_esc"
            | "autoEsc"
            | "node"
            | "current_node"
            | "currentNode"
            | "time_zone"
            | "timeZone"
            | "incompatible_improvements"
            | "incompatibleImprovements"
            | "error"
    )
}

/// The top-level fields of `input` that `nodes` (and `macros`) can read, in first-use order;
/// `None` when they may read any.
pub(crate) fn input_fields(nodes: &[Node]) -> Option<Vec<InputField>> {
    let mut reads = Reads::default();
    reads.nodes(nodes);
    (!reads.whole).then_some(reads.fields)
}

#[cfg(test)]
mod tests {
    use crate::{Settings, Template};

    fn read(source: &str) -> Option<Vec<super::InputField>> {
        Template::new("t", source, Settings::default())
            .expect("parses")
            .input_fields()
    }

    fn fields(source: &str) -> Option<Vec<String>> {
        Some(read(source)?.into_iter().map(|f| f.name).collect())
    }

    /// Each field's keys, `*` when it is read whole.
    fn keys(source: &str) -> Vec<String> {
        read(source)
            .expect("named fields")
            .into_iter()
            .map(|f| match f.keys {
                Some(keys) => format!("{}:{}", f.name, keys.join(",")),
                None => format!("{}:*", f.name),
            })
            .collect()
    }

    #[test]
    fn keys_are_named_only_while_every_use_names_one() {
        assert_eq!(
            keys(
                "${input.p.email!} ${input.p.plan.x} ${input.p.email} ${input.q.a} ${input.q?size} \
                 ${input.r.a} ${input.r[\"b\"]} ${input.s} ${input.s.a} ${input.t.*} ${input.u.a??}"
            ),
            ["p:email,plan", "q:*", "r:*", "s:*", "t:*", "u:a"]
        );
    }

    #[test]
    fn named_fields_are_listed_once_in_first_use_order() {
        assert_eq!(
            fields(
                "${input.b.c} ${input[\"a\"]!} <#if input.b??>${\"${input.d}\"}</#if>\
                 <#macro m x=input.e>${x}</#macro><@m/><#list input.f as i>${i}</#list>"
            ),
            Some(vec![
                "b".into(),
                "a".into(),
                "d".into(),
                "e".into(),
                "f".into()
            ])
        );
        assert_eq!(fields("no input at all"), Some(vec![]));
    }

    #[test]
    fn any_other_use_of_input_means_every_field() {
        for source in [
            "${input?keys?size}",
            "<#list input as k, v>${k}</#list>",
            "${input[name]}",
            "<#assign x = input>${x.a}",
            "<@m input/>",
            "${input.*}",
            "${.data_model.input.a}",
            "${.vars.input.a}",
            "${(input)!}",
        ] {
            assert_eq!(fields(source), None, "{source}");
        }
        assert_eq!(fields("${.now?is_datetime?c} ${.version}"), Some(vec![]));
    }
}
