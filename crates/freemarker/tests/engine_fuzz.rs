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
