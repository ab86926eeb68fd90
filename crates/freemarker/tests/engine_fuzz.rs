//! Property test: random templates (built from FTL fragments and raw characters) and random JSON inputs
//! never make parsing or rendering panic, hang or overflow the stack; every outcome is `Ok` or `Err`.

use freemarker::{Settings, Template};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Pieces that exercise the lexer, parser and interpreter (including broken combinations).
const FRAGMENTS: &[&str] = &[
    "${",
    "}",
    "#{",
    "<#if ",
    "<#elseif ",
    "<#else>",
    "</#if>",
    "<#list ",
    " as ",
    "x",
    "k, v",
    "</#list>",
    "<#items as i>",
    "</#items>",
    "<#sep>",
    "</#sep>",
    "<#break>",
    "<#continue>",
    "<#switch ",
    "<#case ",
    "<#default>",
    "</#switch>",
    "<#assign ",
    "<#local ",
    "<#global ",
    " = ",
    "+=",
    "++",
    "<#macro m a b=1>",
    "</#macro>",
    "<@m ",
    "/>",
    "<#nested>",
    "<#return>",
    "<#function f x>",
    "</#function>",
    "f(",
    "m",
    "<#attempt>",
    "<#recover>",
    "</#attempt>",
    "<#compress>",
    "</#compress>",
    "<#noparse>",
    "</#noparse>",
    "<#t>",
    "<#lt>",
    "<#rt>",
    "<#nt>",
    "<#--",
    "-->",
    "<#ftl strip_whitespace=false>",
    "<#setting ",
    "number_format=",
    "\"0.##\"",
    "input",
    ".",
    "a",
    "b",
    "c",
    "[",
    "]",
    "(",
    ")",
    "{",
    ":",
    ",",
    "?",
    "??",
    "!",
    "\"s\"",
    "'q'",
    "r\"raw\"",
    "\"${input.a}\"",
    "1",
    "0",
    "-1",
    "2.5",
    "..",
    "..<",
    "..*",
    "+",
    "-",
    "*",
    "/",
    "%",
    "==",
    "!=",
    "<",
    ">",
    "gte",
    "&&",
    "||",
    "true",
    "false",
    "->",
    "?size",
    "?upper_case",
    "?c",
    "?string",
    "?then(1, 2)",
    "?switch(1, 2)",
    "?filter(x -> x)",
    "?map(x -> x)",
    "?join(\",\")",
    "?keys",
    "?values",
    "?first",
    "?last",
    "?sort",
    "?reverse",
    "?number",
    "?date",
    "?datetime",
    "?long",
    "?index",
    "?has_next",
    "?has_content",
    "?length",
    "?replace(\"a\", \"b\")",
    "?split(\",\")",
    "?truncate(3)",
    "?left_pad(5)",
    "?matches(\"a.*\")",
    "?eval_json",
    "?round",
    "?string(\"0.00\")",
    "?iso_utc",
    "?json_string",
    "?chunk(2)",
    "\n",
    " ",
    "  ",
    "\r\n",
    "\t",
];

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(FRAGMENTS).prop_map(str::to_string),
        1 => "[ -~]{1,3}",
        1 => "[\\u{80}-\\u{3000}]{1,2}",
    ]
}

fn template_source() -> impl Strategy<Value = String> {
    proptest::collection::vec(fragment(), 0..40).prop_map(|parts| parts.concat())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e9f64..1e9).prop_map(|f| json!(f)),
        "[a-z0-9 ,.-]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[abckvx]", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Well-formed expressions over the input, so rendering (not only parsing) gets exercised.
fn expression() -> impl Strategy<Value = String> {
    let atom = prop_oneof![proptest::sample::select(vec![
        "input.a",
        "input.b",
        "input.c",
        "input.a.x",
        "input.c.k",
        "input.b[0]",
        "input[\"a\"]",
        "1",
        "0",
        "-3",
        "2.5",
        "\"s\"",
        "\"\"",
        "true",
        "false",
        "[1, 2, 3]",
        "{\"k\": 1}",
        "(1..4)",
        "(0..<0)",
        "\"2022-02-28 20:07:01\"",
        ".now",
        "x",
    ])
    .prop_map(str::to_string),];
    atom.prop_recursive(4, 32, 3, |inner| {
        let postfix = proptest::sample::select(vec![
            "?size",
            "?string",
            "?c",
            "?upper_case",
            "?trim",
            "?length",
            "?has_content",
            "?is_string",
            "?keys",
            "?first",
            "?reverse",
            "?sort",
            "?join(\",\")",
            "?round",
            "?abs",
            "?int",
            "?string(\"0.0\")",
            "?number",
            "?boolean",
            "?then(1, 2)",
            "?filter(v -> v?has_content)",
            "?map(v -> v)",
            "?datetime(\"yyyy-MM-dd HH:mm:ss\")",
            "?long",
            "?iso_utc",
            "?json_string",
            "?split(\",\")",
            "?left_pad(4)",
            "?truncate(4)",
            "?contains(\"a\")",
            "?seq_contains(1)",
            "?chunk(2)",
            "!",
            "!0",
            "??",
            "[0]",
            "[0..1]",
            ".k",
        ]);
        let binop = proptest::sample::select(vec![
            " + ", " - ", " * ", " / ", " % ", " == ", " != ", " < ", " >= ", " && ", " || ", "..",
        ]);
        prop_oneof![
            (inner.clone(), postfix).prop_map(|(e, p)| format!("({e}){p}")),
            (inner.clone(), binop, inner.clone()).prop_map(|(l, o, r)| format!("({l}{o}{r})")),
            inner.clone().prop_map(|e| format!("!({e})")),
            inner.prop_map(|e| format!("-({e})")),
        ]
    })
}

/// Templates made of text, interpolations and directives around well-formed expressions.
fn structured_template() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        expression().prop_map(|e| format!("${{{e}}}")),
        expression().prop_map(|e| format!("<#if {e}>T<#else>F</#if>")),
        expression().prop_map(|e| format!("<#list {e} as x>[${{x}}]<#sep>,</#list>")),
        expression().prop_map(|e| format!("<#list {e} as k, v>${{k}}</#list>")),
        expression().prop_map(|e| format!("<#assign x = {e}>")),
        expression().prop_map(|e| format!("<#attempt>${{{e}}}<#recover>R</#attempt>")),
        expression()
            .prop_map(|e| format!("<#switch {e}><#case 1>one<#break><#default>d</#switch>")),
        Just("\n  ".to_string()),
        Just("text".to_string()),
    ];
    proptest::collection::vec(piece, 1..6).prop_map(|p| p.concat())
}

fn limited() -> Settings {
    let mut s = Settings::default();
    s.max_steps = 20_000;
    s.max_output_bytes = 64 * 1024;
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_templates_never_panic(src in template_source(), input in json_value()) {
        if let Ok(t) = Template::new("fuzz", &src, limited()) {
            let _ = t.render(&input);
            let _ = t.render(&json!({"a": input.clone(), "b": [1, 2, 3], "c": {"x": "y"}}));
        }
    }

    #[test]
    fn random_well_formed_templates_never_panic(src in structured_template(), input in json_value()) {
        // literal operands of the wrong type are syntax errors (as in FreeMarker); everything else renders
        if let Ok(t) = Template::new("fuzz", &src, limited()) {
            let _ = t.render(&json!({"a": input.clone(), "b": [input.clone(), 1], "c": {"k": input}}));
        }
    }

    #[test]
    fn seed_template_renders_any_event_with_string_or_missing_fields(
        user in proptest::option::of(".{0,12}"),
        event_type in ".{0,12}",
        email in proptest::option::of(".{0,12}"),
    ) {
        let src = "{\n  <#if input.user_id??>\n  \"external_id\" : \"${input.user_id}\",\n  </#if>\n  \"name\" : \"${input.event_type}\",\n  \"email\" : \"${input.user_properties.email!}\"\n}";
        let t = Template::new("seed", src, limited()).unwrap();
        let input = json!({"user_id": user, "event_type": event_type, "user_properties": {"email": email}});
        let out = t.render(&input);
        prop_assert!(out.is_ok(), "{:?}", out);
        let out = out.unwrap_or_default();
        let expected_name = format!("\"name\" : \"{}\"", event_type);
        prop_assert!(out.contains(&expected_name), "{}", out);
        prop_assert_eq!(out.contains("external_id"), user.is_some());
    }
}
